/* apps/http.h - what both HTTP servers share: the listener, connections, a request
 * parser and the response writer, and the CPU job itself. What differs - how a job gets
 * to a worker and its answer back to the loop - is all in httpd_fut.c and httpd_uv.c,
 * so their line counts and their speed compare that and nothing else.
 *
 * The protocol (HTTP/1.1, keep-alive, one request in flight per connection, as wrk and
 * check_httpd.py send them):
 *   GET /job?u=USER&n=ROUNDS[&d=MS]
 *                             -> 200 "USER HASH COUNT\n": the job's hash of ROUNDS
 *                                rounds, and how many jobs USER has had answered
 *                                (per-user totals kept on the loop thread); with a
 *                                deadline of MS ms (servers that can keep one), 503
 *                                "USER error ETIMEDOUT" when it passes first
 *   GET /totals               -> 200, one line "USER COUNT" per user with jobs
 *   GET /quit                 -> 200, then the server stops accepting and exits
 * Anything else is 400; a request whose headers pass HTTP_BUF bytes is 431, and the
 * rest of that connection's input is dropped. A server that refuses a job (its pool is
 * full, or out of memory) answers 503 "USER error ERRNO". A client that closes its
 * connection with jobs in flight: each is handed to the server's gone() (to cancel
 * it); its answer, when it comes, goes nowhere. Answers go out as jobs finish. */
#ifndef APPS_HTTP_H
#define APPS_HTTP_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L /* uv.h under -std=c11 */
#endif

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

enum { HTTP_USERS = 64, HTTP_BUF = 4096 };

/* The CPU job: ROUNDS rounds of FNV-1a over the round counter, seeded by USER
 * (check_httpd.py computes the same); http_job_run does rounds [from, to), so that a
 * job can stop between pieces. */
static inline uint64_t http_job_seed(uint32_t user) { return 1469598103934665603ull ^ user; }
static inline uint64_t http_job_run(uint64_t h, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        h = (h ^ i) * 1099511628211ull;
    return h;
}
static inline uint64_t http_job(uint32_t user, uint32_t rounds)
{
    return http_job_run(http_job_seed(user), 0, rounds);
}

/* One job in flight: the first member of the server's own request struct, which http.h
 * allocates (req_size bytes, zeroed) and the server frees after http_answer. */
typedef struct http_req {
    struct http_req *next, *prev; /* on its connection's list (loop thread only) */
    struct http_conn *c;
    uint32_t user, rounds, ms; /* ms: the request's deadline (&d=), 0 none */
} http_req;

typedef struct http_conn {
    uv_tcp_t tcp;
    char buf[HTTP_BUF];
    size_t len;
    int inflight; /* requests read and not yet answered (loop thread only) */
    int closing;
    int discard;  /* after a 431: input is dropped */
    http_req reqs; /* the jobs in flight: a ring through this sentinel */
} http_conn;

typedef struct http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;
    uint64_t count[HTTP_USERS]; /* answered jobs per user: loop thread only */
    /* The server's part: start r's job; call http_answer on the loop when it is done. */
    size_t req_size;
    void (*job)(struct http_server *s, http_req *r);
    void (*gone)(struct http_server *s, http_req *r); /* r's client left: cancel it */
    void (*stop)(struct http_server *s); /* after /quit: close what the server added */
} http_server;

static void http_closed(uv_handle_t *h) { free(h); }

/* A connection is closed once it is at EOF and every request read on it was answered. */
static void http_release(http_conn *c)
{
    if (c->closing && c->inflight == 0 && !uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, http_closed);
}

typedef struct http_write {
    uv_write_t w;
    uv_buf_t b;
    http_conn *c;
    char data[512];
} http_write;

static void http_written(uv_write_t *w, int status)
{
    (void)status;
    http_write *hw = (http_write *)w;
    http_conn *c = hw->c;
    free(hw);
    c->inflight--;
    http_release(c);
}

/* Sends a response (on the loop thread) and ends one request on c. */
static void http_send(http_conn *c, int code, const char *body)
{
    http_write *hw = malloc(sizeof *hw);
    if (hw == NULL) {
        c->inflight--;
        return;
    }
    size_t blen = strlen(body);
    int n = snprintf(hw->data, sizeof hw->data, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n\r\n%s", code,
                     code == 200   ? "OK"
                     : code == 503 ? "Service Unavailable"
                     : code == 431 ? "Request Header Fields Too Large"
                                   : "Bad Request",
                     blen, body);
    hw->b = uv_buf_init(hw->data, (unsigned)n);
    hw->c = c;
    if (c->closing || uv_write(&hw->w, (uv_stream_t *)&c->tcp, &hw->b, 1, http_written) != 0) {
        free(hw);
        c->inflight--;
        http_release(c);
    }
}

/* A job's answer (on the loop thread): counts it for user and replies; err != 0 is 503.
 * r leaves its connection's list; freeing it is the server's. */
static void http_answer(http_server *s, http_req *r, uint64_t hash, int err)
{
    char body[96];
    http_conn *c = r->c;
    uint32_t user = r->user;
    r->prev->next = r->next;
    r->next->prev = r->prev;
    if (err != 0) {
        snprintf(body, sizeof body, "%u error %d\n", user, err);
        http_send(c, 503, body);
        return;
    }
    snprintf(body, sizeof body, "%u %016llx %llu\n", user, (unsigned long long)hash,
             (unsigned long long)++s->count[user]);
    http_send(c, 200, body);
}

static void http_totals(http_server *s, http_conn *c)
{
    char body[HTTP_USERS * 24 + 1];
    size_t n = 0;
    body[0] = 0;
    for (unsigned u = 0; u < HTTP_USERS; u++)
        if (s->count[u] != 0)
            n += (size_t)snprintf(body + n, sizeof body - n, "%u %llu\n", u, (unsigned long long)s->count[u]);
    http_send(c, 200, body);
}

/* After /quit: closes every connection still open (their pending writes are cancelled). */
static void http_close_walk(uv_handle_t *h, void *arg)
{
    http_server *s = arg;
    if (h->type == UV_TCP && h != (uv_handle_t *)&s->listener && !uv_is_closing(h)) {
        ((http_conn *)h->data)->closing = 1;
        uv_close(h, http_closed);
    }
}

/* One request line: "GET /job?u=U&n=N ..." and friends. */
static void http_request(http_server *s, http_conn *c, const char *line)
{
    unsigned user, rounds, ms = 0;
    c->inflight++;
    if (sscanf(line, "GET /job?u=%u&n=%u&d=%u", &user, &rounds, &ms) >= 2 && user < HTTP_USERS) {
        http_req *r = calloc(1, s->req_size);
        if (r == NULL) {
            http_send(c, 503, "out of memory\n");
            return;
        }
        *r = (http_req){.next = c->reqs.next, .prev = &c->reqs, .c = c, .user = user, .rounds = rounds, .ms = ms};
        r->next->prev = r;
        c->reqs.next = r;
        s->job(s, r);
    } else if (strncmp(line, "GET /totals ", 12) == 0) {
        http_totals(s, c);
    } else if (strncmp(line, "GET /quit ", 10) == 0) {
        http_send(c, 200, "bye\n");
        uv_close((uv_handle_t *)&s->listener, NULL);
        s->stop(s);
        uv_walk(s->loop, http_close_walk, s);
    } else {
        http_send(c, 400, "bad request\n");
    }
}

static void http_alloc(uv_handle_t *h, size_t want, uv_buf_t *b)
{
    (void)want;
    http_conn *c = h->data;
    *b = uv_buf_init(c->buf + c->len, (unsigned)(HTTP_BUF - 1 - c->len));
}

static void http_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    http_conn *c = st->data;
    http_server *s = st->loop->data;
    if (n >= 0 && (c->discard || c->len + (size_t)n >= HTTP_BUF - 1)) {
        /* Headers too big: say so once, then read and drop the rest until the client
         * closes (closing with unread data would reset the connection and could lose
         * the 431). */
        if (!c->discard) {
            c->inflight++;
            http_send(c, 431, "headers too large\n");
        }
        c->discard = 1;
        c->len = 0;
        return;
    }
    if (n < 0) { /* EOF or an error: the client is gone; so are its jobs' answers */
        uv_read_stop(st);
        c->closing = 1;
        for (http_req *r = c->reqs.next, *next; r != &c->reqs; r = next) {
            next = r->next;
            s->gone(s, r);
        }
        http_release(c);
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = 0;
    char *start = c->buf, *end;
    while ((end = strstr(start, "\r\n\r\n")) != NULL) { /* every whole request read */
        *end = 0;
        http_request(s, c, start);
        start = end + 4;
    }
    c->len -= (size_t)(start - c->buf);
    memmove(c->buf, start, c->len);
}

static void http_accept(uv_stream_t *l, int status)
{
    http_conn *c = calloc(1, sizeof *c);
    if (status < 0 || c == NULL) {
        free(c);
        return;
    }
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    c->reqs.next = c->reqs.prev = &c->reqs;
    if (uv_accept(l, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, http_closed);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, http_alloc, http_read);
}

/* Listens on 127.0.0.1:port (0: any free port) and prints "port N" on stdout. */
static int http_listen(http_server *s, uv_loop_t *loop, int port)
{
    struct sockaddr_in addr;
    s->loop = loop;
    loop->data = s;
    uv_tcp_init(loop, &s->listener);
    uv_ip4_addr("127.0.0.1", port, &addr);
    if (uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&s->listener, 511, http_accept) != 0)
        return -1;
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
    printf("port %d\n", ntohs(got.sin_port));
    fflush(stdout);
    return 0;
}

#endif
