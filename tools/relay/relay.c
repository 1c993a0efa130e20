/*
 * relay -- udsgate's reference relay: the cheapest hop between a Unix stream
 * socket and a Unix stream backend that we know how to write on Linux.
 *
 * The benchmark suite (scripts/bench.sh) runs it next to the gate, against the
 * same backend, to show how far the gate is from what one relay hop costs on
 * the machine at hand. It checks nobody, logs nothing and has no limits: it is
 * a measuring stick, not a product.
 *
 *   cc -O2 -Wall -Wextra -o relay relay.c
 *   relay [--splice|--copy] LISTEN_PATH BACKEND_PATH
 *
 * --splice (default): bytes go socket -> pipe -> socket with splice(2) and
 *   never enter user space. Each direction gets its pipe (grown to 1 MiB with
 *   F_SETPIPE_SZ where allowed) when its first bytes arrive, so an idle
 *   connection holds only its two sockets.
 * --copy: read(2) and write(2) through a 256 KiB buffer per direction,
 *   allocated the same lazy way.
 *
 * One thread, one epoll set, edge-triggered sockets:
 *   - A direction moves bytes until its source or its destination says
 *     EAGAIN. While its destination is full it waits for EPOLLOUT there and
 *     leaves its source alone, so the kernel's buffers apply back-pressure.
 *   - When a source reaches end of file and everything read from it has
 *     been written, the destination gets shutdown(SHUT_WR): a half-close
 *     passes through. The connection is closed when both directions are
 *     done, or at once on any error on either socket.
 *   - A Unix stream connect(2) never returns EINPROGRESS: it succeeds at once
 *     or fails with EAGAIN while the backend's listen backlog is full. Such a
 *     connect is retried about every millisecond for two seconds; after that,
 *     or on any other error, the client is closed.
 *   - At start a socket file at LISTEN_PATH that nobody answers on is stale
 *     and removed; a live one, or anything that is not a socket, is left
 *     alone and the relay exits 1. SIGINT and SIGTERM remove the socket file
 *     and exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum {
	BUF_SIZE = 256 * 1024,      /* --copy buffer per direction */
	PIPE_WANT = 1024 * 1024,    /* --splice pipe size asked for */
	BATCH = 128,                /* epoll events per wait */
	RETRY_MS = 2000,            /* how long EAGAIN connects are retried */
};

#define SOCK_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET)

/* One direction of a link: from -> to. */
struct flow {
	int from, to;
	int pipe_rd, pipe_wr;   /* --splice: -1 until the first bytes */
	char *buf;              /* --copy: NULL until the first bytes */
	size_t start, pending;  /* bytes read and not yet written */
	int full;               /* `to` said EAGAIN: wait for its EPOLLOUT */
	int eof;                /* `from` reached end of file */
	int shut;               /* the end of file was passed on */
};

/* epoll cookie: which socket of which link. */
struct tag {
	struct link *link;
	int backend;            /* 0: the client socket, 1: the backend socket */
};

struct link {
	int client, backend;
	int broken;             /* closed; freed after the current batch */
	long long give_up;      /* ms: stop retrying the connect then */
	struct flow up, down;   /* up: client -> backend; down: backend -> client */
	struct tag tags[2];
	struct link *next;      /* on the retry list, then on the free list */
};

static int splice_mode = 1;
static size_t pipe_size = 64 * 1024;
static int ep;
static struct sockaddr_un backend_addr;
static struct link *waiting, *dead;
static int listen_cookie, signal_cookie;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void fatal(const char *what)
{
	fprintf(stderr, "relay: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void flow_init(struct flow *f, int from, int to)
{
	memset(f, 0, sizeof *f);
	f->from = from;
	f->to = to;
	f->pipe_rd = f->pipe_wr = -1;
}

static void flow_free(struct flow *f)
{
	if (f->pipe_rd >= 0) {
		close(f->pipe_rd);
		close(f->pipe_wr);
	}
	free(f->buf);
}

/* Closes both sockets (which also takes them out of the epoll set). Events
 * of the current batch may still name the link, so it is freed later. */
static void link_close(struct link *l)
{
	if (l->broken)
		return;
	l->broken = 1;
	close(l->client);
	if (l->backend >= 0)
		close(l->backend);
	flow_free(&l->up);
	flow_free(&l->down);
	l->next = dead;
	dead = l;
}

/* Gives a flow its pipe or buffer on first use. */
static int flow_ready(struct flow *f)
{
	int p[2];

	if (!splice_mode) {
		if (!f->buf && !(f->buf = malloc(BUF_SIZE)))
			return -1;
		return 0;
	}
	if (f->pipe_rd >= 0)
		return 0;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	/* Best effort: pipe-max-size or the user's pipe quota may refuse. */
	fcntl(p[1], F_SETPIPE_SZ, PIPE_WANT);
	f->pipe_rd = p[0];
	f->pipe_wr = p[1];
	return 0;
}

/* Moves what it can. Returns -1 when the link must be closed. */
static int flow_run(struct flow *f)
{
	ssize_t n;

	while (!f->shut) {
		if (f->pending > 0) {
			if (splice_mode)
				n = splice(f->pipe_rd, NULL, f->to, NULL, f->pending,
					   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			else
				n = write(f->to, f->buf + f->start, f->pending);
			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (errno != EAGAIN)
					return -1;
				f->full = 1;
				return 0;
			}
			f->start += (size_t)n;
			f->pending -= (size_t)n;
			continue;
		}
		f->start = 0;
		if (f->eof) {
			/* Everything is through: pass the end of file on. */
			shutdown(f->to, SHUT_WR);
			f->shut = 1;
			break;
		}
		if (flow_ready(f) < 0)
			return -1;
		if (splice_mode)
			n = splice(f->from, NULL, f->pipe_wr, NULL, pipe_size,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		else
			n = read(f->from, f->buf, BUF_SIZE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		if (n == 0)
			f->eof = 1;
		f->pending = (size_t)n;
	}
	return 0;
}

static void link_settle(struct link *l, int rc)
{
	if (rc < 0 || (l->up.shut && l->down.shut))
		link_close(l);
}

static int watch(int fd, struct tag *t)
{
	struct epoll_event ev = { .events = SOCK_EVENTS, .data.ptr = t };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

/* The backend accepted: watch both sockets and move whatever the client has
 * sent already (edge-triggered: no event would announce it). */
static void link_start(struct link *l)
{
	int i, rc;

	for (i = 0; i < 2; i++) {
		l->tags[i].link = l;
		l->tags[i].backend = i;
	}
	if (watch(l->client, &l->tags[0]) < 0 || watch(l->backend, &l->tags[1]) < 0) {
		link_close(l);
		return;
	}
	rc = flow_run(&l->up);
	if (rc == 0)
		rc = flow_run(&l->down);
	link_settle(l, rc);
}

/* 1: connected; 0: backlog full, try again; -1: give up. */
static int link_connect(struct link *l)
{
	if (connect(l->backend, (struct sockaddr *)&backend_addr, sizeof backend_addr) == 0)
		return 1;
	return errno == EAGAIN || errno == EINTR ? 0 : -1;
}

static void link_dial(struct link *l)
{
	int rc = link_connect(l);

	if (rc > 0) {
		link_start(l);
	} else if (rc == 0 && now_ms() < l->give_up) {
		l->next = waiting;
		waiting = l;
	} else {
		link_close(l);
	}
}

static void accept_clients(int lfd)
{
	struct link *l;
	int fd;

	for (;;) {
		fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				perror("relay: accept4"); /* EMFILE...: level-triggered, comes back */
			return;
		}
		if (!(l = calloc(1, sizeof *l))) {
			close(fd);
			continue;
		}
		l->client = fd;
		l->give_up = now_ms() + RETRY_MS;
		l->backend = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		flow_init(&l->up, l->client, l->backend);
		flow_init(&l->down, l->backend, l->client);
		if (l->backend < 0)
			link_close(l);
		else
			link_dial(l);
	}
}

static void retry_waiting(void)
{
	struct link *l = waiting, *next;

	waiting = NULL;
	for (; l; l = next) {
		next = l->next;
		link_dial(l);
	}
}

static void on_event(struct tag *t, unsigned ev)
{
	struct link *l = t->link;
	/* The flow this socket feeds, and the flow that writes to it. */
	struct flow *in = t->backend ? &l->down : &l->up;
	struct flow *out = t->backend ? &l->up : &l->down;
	int rc = 0, hup = ev & (EPOLLERR | EPOLLHUP);

	if (l->broken)
		return;
	if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
		out->full = 0;
		if (out->pending > 0)
			rc = flow_run(out);
	}
	if (rc == 0 && (ev & (EPOLLIN | EPOLLRDHUP) || hup) && (!in->full || hup))
		rc = flow_run(in);
	link_settle(l, rc);
}

static void set_path(struct sockaddr_un *a, const char *path)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof a->sun_path) {
		fprintf(stderr, "relay: socket path too long: %s\n", path);
		exit(2);
	}
	strcpy(a->sun_path, path);
}

/* Removes a stale socket at the listen path: one nobody answers on. */
static void clear_stale(const struct sockaddr_un *a)
{
	struct stat st;
	int fd, live;

	if (lstat(a->sun_path, &st) < 0)
		return;
	if (!S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "relay: %s exists and is not a socket\n", a->sun_path);
		exit(1);
	}
	/* Non-blocking: a live listener with a full backlog answers EAGAIN. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket");
	live = connect(fd, (const struct sockaddr *)a, sizeof *a) == 0 || errno == EAGAIN;
	close(fd);
	if (live) {
		fprintf(stderr, "relay: %s is in use by a live listener\n", a->sun_path);
		exit(1);
	}
	if (unlink(a->sun_path) < 0 && errno != ENOENT)
		fatal("remove stale socket");
}

int main(int argc, char **argv)
{
	struct sockaddr_un listen_addr;
	struct epoll_event evs[BATCH], ev = { .events = EPOLLIN };
	const char *paths[2];
	sigset_t mask;
	int i, n, np = 0, lfd, sfd, p[2];

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--splice"))
			splice_mode = 1;
		else if (!strcmp(argv[i], "--copy"))
			splice_mode = 0;
		else if (argv[i][0] != '-' && np < 2)
			paths[np++] = argv[i];
		else
			np = 3;
	}
	if (np != 2) {
		fprintf(stderr, "usage: relay [--splice|--copy] LISTEN_PATH BACKEND_PATH\n");
		return 2;
	}
	set_path(&listen_addr, paths[0]);
	set_path(&backend_addr, paths[1]);

	signal(SIGPIPE, SIG_IGN); /* a gone peer is EPIPE from write/splice */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		fatal("sigprocmask");
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		fatal("signalfd");

	clear_stale(&listen_addr);
	if ((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket");
	if (bind(lfd, (struct sockaddr *)&listen_addr, sizeof listen_addr) < 0)
		fatal("bind");
	if (listen(lfd, SOMAXCONN) < 0)
		fatal("listen");

	/* Learn the pipe size we will get, to splice that much at a time. */
	if (splice_mode && pipe2(p, O_CLOEXEC) == 0) {
		fcntl(p[1], F_SETPIPE_SZ, PIPE_WANT);
		if ((n = fcntl(p[1], F_GETPIPE_SZ)) > 0)
			pipe_size = (size_t)n;
		close(p[0]);
		close(p[1]);
	}

	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		fatal("epoll_create1");
	ev.data.ptr = &listen_cookie; /* level-triggered */
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		fatal("epoll_ctl");
	ev.data.ptr = &signal_cookie;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) < 0)
		fatal("epoll_ctl");
	fprintf(stderr, "relay: %s -> %s, %s, %zu bytes per direction\n", paths[0], paths[1],
		splice_mode ? "splice" : "copy", splice_mode ? pipe_size : (size_t)BUF_SIZE);

	for (;;) {
		n = epoll_wait(ep, evs, BATCH, waiting ? 1 : -1);
		if (n < 0 && errno != EINTR)
			fatal("epoll_wait");
		for (i = 0; i < n; i++) {
			void *c = evs[i].data.ptr;

			if (c == &listen_cookie) {
				accept_clients(lfd);
			} else if (c == &signal_cookie) {
				unlink(paths[0]);
				return 0;
			} else {
				on_event(c, evs[i].events);
			}
		}
		if (waiting)
			retry_waiting();
		while (dead) {
			struct link *l = dead;
			dead = l->next;
			free(l);
		}
	}
}
