/*
 * http_stream.c - Server-Sent Events: streams as libmicrohttpd callback responses, parked
 * (suspended) whenever they have nothing to send, and the hub thread that unparks them.
 *
 * A stream is in one of two states, under the server's mu:
 *   RUNNING    libmicrohttpd owns it and calls reader() when the socket can take data;
 *              reader() hands over what it has, asks produce() for more, and when there is
 *              none parks it: adds its socket to the hub's epoll set (EPOLLRDHUP only) and
 *              calls MHD_suspend_connection(), all under mu.
 *   SUSPENDED  no thread looks at it. Only the hub (or the stopping thread, once the hub is
 *              joined) unparks it, again under mu: removes the socket from its epoll set,
 *              marks it RUNNING and calls MHD_resume_connection().
 * The hub unparks a stream when its key is woken (http_server_wake), when its heartbeat is
 * due, or when its client hangs up. A wake that finds a stream RUNNING sets `woken`, which
 * reader() checks under mu before parking, so no wake is lost between produce() and the park.
 *
 * Because a stream is freed only by libmicrohttpd (the response's free callback) and a
 * suspended one cannot be, every stream pointer the hub reads from epoll or its list is valid
 * while it holds mu; it consumes each epoll batch under mu before anything is resumed.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"
#include "http/http_internal.h"

/* ---- parking, under mu ------------------------------------------------------------------- */

static void unpark(struct http_server *s, struct stream *st)
{
	st->park = PARK_RUNNING;
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, st->fd, NULL);
	MHD_resume_connection(st->conn);
}

static void wake_one(struct http_server *s, struct stream *st)
{
	if (st->park == PARK_SUSPENDED)
		unpark(s, st);
	else
		st->woken = true;
}

/* ---- the content reader ------------------------------------------------------------------ */

static ssize_t reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	struct http_server *s = st->srv;
	for (;;) {
		if (st->out_off < st->out.len) {
			size_t n = st->out.len - st->out_off;
			if (n > max)
				n = max;
			memcpy(buf, st->out.data + st->out_off, n);
			st->out_off += n;
			if (st->out_off == st->out.len) {
				buf_reset(&st->out);
				st->out_off = 0;
			}
			return (ssize_t)n;
		}
		pthread_mutex_lock(&s->mu);
		bool finished = st->finished, closing = st->closing, gone = st->gone;
		bool hb = st->hb_due;
		st->hb_due = false;
		st->woken = false;
		pthread_mutex_unlock(&s->mu);
		if (finished || closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (gone)
			return MHD_CONTENT_READER_END_WITH_ERROR;

		int r = st->ops->produce(st->ctx, &st->out);
		if (r < 0) {
			pthread_mutex_lock(&s->mu);
			st->failed = true;
			pthread_mutex_unlock(&s->mu);
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (r == HTTP_STREAM_END) {
			pthread_mutex_lock(&s->mu);
			st->finished = true;
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		if (st->out.len)
			continue;
		if (hb) {
			http_sse_comment(&st->out, NULL);
			continue;
		}

		pthread_mutex_lock(&s->mu);
		if (st->woken || st->hb_due || st->closing || st->gone) {
			pthread_mutex_unlock(&s->mu);
			continue;
		}
		st->park = PARK_SUSPENDED;
		st->parked_ms = mono_ms();
		struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = st};
		epoll_ctl(s->epfd, EPOLL_CTL_ADD, st->fd,
			  &ev); /* if it fails: heartbeats find out */
		MHD_suspend_connection(st->conn);
		pthread_mutex_unlock(&s->mu);
		return 0;
	}
}

static void reader_free(void *cls)
{
	struct stream *st = cls;
	struct http_server *s = st->srv;
	pthread_mutex_lock(&s->mu);
	if (st->prev)
		st->prev->next = st->next;
	else
		s->streams = st->next;
	if (st->next)
		st->next->prev = st->prev;
	if (st->park == PARK_SUSPENDED) /* cannot happen: every stream is resumed before stop */
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, st->fd, NULL);
	if (--s->n_streams == 0)
		pthread_cond_broadcast(&s->drained);
	enum http_stream_end why = st->finished	 ? HTTP_STREAM_FINISHED
				   : st->failed	 ? HTTP_STREAM_FAILED
				   : st->closing ? HTTP_STREAM_SERVER_STOP
						 : HTTP_STREAM_CLIENT_GONE;
	pthread_mutex_unlock(&s->mu);
	st->ops->close(st->ctx, why);
	buf_free(&st->out);
	free(st);
}

struct MHD_Response *stream_open(struct http_server *s, struct MHD_Connection *conn,
				 struct http_resp *rs, bool *ret_stopping)
{
	const struct http_stream_ops *ops = rs->stream_ops;
	void *ctx = rs->stream_ctx;
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	pthread_mutex_lock(&s->mu);
	if (s->stopping || s->n_streams >= s->opts.max_streams || !ci) {
		*ret_stopping = s->stopping;
		pthread_mutex_unlock(&s->mu);
		ops->close(ctx, HTTP_STREAM_REFUSED);
		return NULL;
	}
	struct stream *st = xcalloc(1, sizeof(*st));
	st->srv = s;
	st->conn = conn;
	st->fd = ci->connect_fd;
	st->ops = ops;
	st->ctx = ctx;
	st->key = rs->stream_key;
	st->next = s->streams;
	if (s->streams)
		s->streams->prev = st;
	s->streams = st;
	s->n_streams++;
	pthread_mutex_unlock(&s->mu);

	struct MHD_Response *r =
	    MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 1024, reader, st, reader_free);
	if (!r) { /* out of memory: close() hears CLIENT_GONE */
		*ret_stopping = false;
		reader_free(st);
		return NULL;
	}
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return r;
}

/* ---- waking ------------------------------------------------------------------------------ */

static void kick(struct http_server *s)
{
	uint64_t one = 1;
	ssize_t w = write(s->evfd, &one, sizeof(one)); /* EAGAIN: a kick is pending anyway */
	(void)w;
}

void http_server_wake(struct http_server *s, uint64_t key)
{
	pthread_mutex_lock(&s->wake_mu);
	bool queued = false;
	for (size_t i = 0; i < s->n_wake_keys && !queued; i++)
		queued = s->wake_keys[i] == key;
	if (!queued) {
		if (s->n_wake_keys < HUB_MAX_KEYS)
			s->wake_keys[s->n_wake_keys++] = key;
		else
			s->wake_overflow = true;
	}
	pthread_mutex_unlock(&s->wake_mu);
	kick(s);
}

void http_server_wake_all(struct http_server *s)
{
	atomic_store(&s->wake_all, true);
	kick(s);
}

size_t http_server_stream_count(struct http_server *s)
{
	pthread_mutex_lock(&s->mu);
	size_t n = s->n_streams;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* ---- the hub thread ---------------------------------------------------------------------- */

static void *hub_main(void *arg)
{
	struct http_server *s = arg;
	struct epoll_event ev[64];
	int timeout = (int)s->opts.heartbeat_ms;
	for (;;) {
		int n = epoll_wait(s->epfd, ev, (int)ARRAY_SIZE(ev), timeout);
		uint64_t keys[HUB_MAX_KEYS];
		size_t nkeys;
		pthread_mutex_lock(&s->wake_mu);
		nkeys = s->n_wake_keys;
		memcpy(keys, s->wake_keys, nkeys * sizeof(keys[0]));
		bool all = s->wake_overflow;
		s->n_wake_keys = 0;
		s->wake_overflow = false;
		pthread_mutex_unlock(&s->wake_mu);
		all |= atomic_exchange(&s->wake_all, false);

		pthread_mutex_lock(&s->mu);
		if (s->stopping) {
			pthread_mutex_unlock(&s->mu);
			break;
		}
		/* Hang-ups first: the batch's pointers are valid only until something resumes. */
		for (int i = 0; i < n; i++) {
			struct stream *st = ev[i].data.ptr;
			if (!st) {
				uint64_t v;
				ssize_t r = read(s->evfd, &v, sizeof(v));
				(void)r;
				continue;
			}
			if (st->park == PARK_SUSPENDED) {
				st->gone = true;
				unpark(s, st);
			}
		}
		int64_t now = mono_ms(), next = INT64_MAX;
		for (struct stream *st = s->streams; st; st = st->next) {
			bool hit = all;
			for (size_t k = 0; k < nkeys && !hit; k++)
				hit = st->key == keys[k];
			if (hit)
				wake_one(s, st);
			if (st->park != PARK_SUSPENDED)
				continue;
			int64_t due = st->parked_ms + s->opts.heartbeat_ms;
			if (due <= now) {
				st->hb_due = true;
				unpark(s, st);
			} else if (due < next) {
				next = due;
			}
		}
		pthread_mutex_unlock(&s->mu);
		timeout = next == INT64_MAX ? (int)s->opts.heartbeat_ms : (int)(next - now);
	}
	return NULL;
}

int hub_start(struct http_server *s)
{
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->evfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->epfd < 0 || s->evfd < 0)
		return -errno;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->evfd, &ev) < 0)
		return -errno;
	int e = pthread_create(&s->hub, NULL, hub_main, s);
	if (e)
		return -e;
	s->hub_started = true;
	return 0;
}

void hub_stop(struct http_server *s, int grace_ms)
{
	pthread_mutex_lock(&s->mu);
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	if (s->hub_started) {
		kick(s);
		pthread_join(s->hub, NULL);
		s->hub_started = false;
	}
	/* The hub is gone: from here only this thread unparks. */
	pthread_mutex_lock(&s->mu);
	for (struct stream *st = s->streams; st; st = st->next) {
		st->closing = true;
		if (st->park == PARK_SUSPENDED)
			unpark(s, st);
	}
	for (struct http_deferred *d = s->deferred; d; d = d->next) {
		pthread_mutex_lock(&d->mu);
		if (!d->done && d->park == PARK_SUSPENDED) {
			d->cancelled = true;
			d->park = PARK_RUNNING;
			MHD_resume_connection(d->conn);
		}
		pthread_mutex_unlock(&d->mu);
	}
	/* Give the streams a moment to send their last chunk. */
	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += grace_ms / 1000;
	dl.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	while (s->n_streams > 0 && pthread_cond_timedwait(&s->drained, &s->mu, &dl) == 0)
		;
	pthread_mutex_unlock(&s->mu);
}

void hub_close_fds(struct http_server *s)
{
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->evfd >= 0)
		close(s->evfd);
	s->epfd = s->evfd = -1;
}
