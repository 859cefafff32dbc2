/* proctree.c - /proc scanning for sessions (see proctree.h). */
#include "exec/proctree.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int proc_stat_read(pid_t pid, struct proc_stat *ret)
{
	char path[64], b[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	ssize_t n;
	do
		n = read(fd, b, sizeof(b) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return -ENOENT;
	b[n] = '\0';
	/* The command name may hold spaces and parentheses: fields follow the last ')'. */
	const char *p = strrchr(b, ')');
	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	struct proc_stat st = {0};
	st.state = *p;
	/* fields: 3 state, 4 ppid, 5 pgrp, 6 session, ... 22 starttime */
	unsigned long long v[20] = {0};
	int field = 3;
	while (*p && field < 22) {
		p = strchr(p, ' ');
		if (!p)
			break;
		p++;
		field++;
		if (field <= 22)
			v[field - 4 < 20 ? field - 4 : 19] = strtoull(p, NULL, 10);
	}
	if (field < 22)
		return -EINVAL;
	st.ppid = (pid_t)v[0];
	st.sid = (pid_t)v[2];
	st.starttime = v[18];
	*ret = st;
	return 0;
}

bool proc_alive(pid_t pid, uint64_t starttime)
{
	struct proc_stat st;
	return pid > 0 && proc_stat_read(pid, &st) == 0 && st.state != 'Z' &&
	       st.starttime == starttime;
}

int session_signal(pid_t sid, int sig)
{
	if (sid <= 1)
		return 0;
	DIR *d = opendir("/proc");
	if (!d)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		pid_t pid = (pid_t)strtol(e->d_name, NULL, 10);
		struct proc_stat st;
		if (proc_stat_read(pid, &st) < 0 || st.sid != sid || st.state == 'Z')
			continue;
		if (kill(pid, sig) == 0)
			n++;
	}
	closedir(d);
	return n;
}

int session_kill_all(pid_t sid, int64_t limit_ms)
{
	int killed = 0;
	struct timespec pause = {0, 10 * 1000 * 1000};
	for (int64_t waited = 0;; waited += 10) {
		int n = session_signal(sid, SIGKILL);
		if (n == 0)
			return killed;
		if (killed < n)
			killed = n;
		if (waited >= limit_ms)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
}
