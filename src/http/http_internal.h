/*
 * http_internal.h - what the transport's own files share and nobody else may use: the
 * response's fields, and the stream hub and deferred answers between http_server.c (which
 * owns libmicrohttpd) and http_stream.c (which owns the hub thread).
 *
 * One mutex, the server's `mu`, guards every stream's and deferred answer's state. Lock
 * order: libmicrohttpd's response mutex (held while it calls a content reader) -> mu ->
 * libmicrohttpd's connection mutex (taken inside MHD_suspend/resume_connection). Nothing is
 * called with `mu` held that could call back into this code.
 */
#ifndef GUST_HTTP_INTERNAL_H
#define GUST_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "http/http.h"

struct http_hdr {
	char *name, *value;
};

struct http_resp {
	int status;
	char *content_type;
	char *body;
	size_t body_len;
	struct http_hdr *hdrs;
	size_t n_hdrs, cap_hdrs;
	/* http_stream() */
	const struct http_stream_ops *stream_ops;
	void *stream_ctx;
	uint64_t stream_key;
	/* http_defer() */
	struct http_deferred *deferred;
	/* set by the transport on the response it gives a handler */
	struct http_server *srv;
	struct http_req *rq;
};

/* Park state of a connection that a stream or a deferred answer suspended. */
enum park {
	PARK_RUNNING,	/* libmicrohttpd is processing it */
	PARK_SUSPENDED, /* MHD_suspend_connection() called: only a resume brings it back */
};

struct stream {
	struct stream *prev, *next; /* the hub's list */
	struct http_server *srv;
	struct MHD_Connection *conn;
	int fd; /* the connection's socket, watched for EPOLLRDHUP while suspended */
	const struct http_stream_ops *ops;
	void *ctx;
	uint64_t key;
	struct buf out; /* produced, not yet handed to libmicrohttpd */
	size_t out_off;
	int64_t parked_ms; /* when it was last suspended (its last write was just before) */
	enum park park;	   /* under mu, as are the flags */
	bool woken;	   /* a wake arrived while running: produce again before parking */
	bool hb_due;	   /* the heartbeat is due */
	bool gone;	   /* the hub saw the client hang up */
	bool closing;	   /* the server is stopping */
	bool finished;	   /* produce() said HTTP_STREAM_END */
	bool failed;	   /* produce() returned an error */
};

/*
 * A deferred answer has its own mutex, so that a completer calling http_deferred_done() after
 * the server is gone touches only memory it still shares a reference to. Lock order: the
 * server's mu -> a deferred's mu -> libmicrohttpd's connection mutex.
 */
struct http_deferred {
	pthread_mutex_t mu;
	struct http_server *srv; /* NULL once the transport let go */
	struct MHD_Connection *conn;
	struct http_req *rq;
	struct http_resp *rs;
	struct http_deferred *prev, *next; /* the server's list (under the server's mu) */
	bool linked;
	enum park park; /* under d->mu, as are the rest */
	int refs;	/* the transport's and the completer's */
	bool done, cancelled;
};

#define HUB_MAX_KEYS 64

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_router *router;
	struct http_server_options opts; /* with defaults filled in */
	char address[64];
	uint16_t port;
	int listen_fd;
	bool tls;
	char *tls_cert, *tls_key; /* PEM text, kept until stop */
	char *start_err;	  /* libmicrohttpd's last message while starting */

	atomic_bool started; /* MHD_start_daemon() returned */

	pthread_mutex_t mu;
	pthread_cond_t drained; /* signalled when the last stream ends (CLOCK_MONOTONIC) */
	/* streams */
	struct stream *streams;
	size_t n_streams;
	bool stopping;
	/* wakes queued for the hub: a flag, and keys under their own small lock so that a
	 * waker never waits for the hub's work under mu */
	atomic_bool wake_all;
	pthread_mutex_t wake_mu;
	uint64_t wake_keys[HUB_MAX_KEYS];
	size_t n_wake_keys;
	bool wake_overflow;
	struct stream **resume; /* the hub's scratch list, max_streams long */
	/* deferred answers the transport still holds */
	struct http_deferred *deferred;
	/* the hub thread */
	pthread_t hub;
	bool hub_started;
	int epfd, evfd;
};

/* http_stream.c */
int hub_start(struct http_server *s);
/* Stop the hub thread, then end every stream (resuming the parked ones) and cancel every
 * parked deferred answer; returns once all streams are gone or after `grace_ms`. */
void hub_stop(struct http_server *s, int grace_ms);
void hub_close_fds(struct http_server *s);
/* Build the libmicrohttpd response for a handler's http_stream(); NULL (and close() called
 * with HTTP_STREAM_REFUSED) when over the limit or stopping (*ret_stopping says which). */
struct MHD_Response *stream_open(struct http_server *s, struct MHD_Connection *conn,
				 struct http_resp *rs, bool *ret_stopping);

/* http_resp.c */
void http_resp_clear_body(struct http_resp *rs);
/* The standard problem for a transport refusal. */
void http_problem_std(struct http_resp *rs, int status, const char *slug, const char *detail);

#endif
