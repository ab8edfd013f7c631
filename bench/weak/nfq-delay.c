/* nfq-delay: a fixed one-way delay for a kernel without netem.
 *
 * iptables sends packets to NFQUEUE queue N (`-j NFQUEUE --queue-num N --queue-bypass`); this
 * program receives each packet's metadata (not its payload), and gives the kernel its ACCEPT
 * verdict D ms after it arrived. Verdicts go out in arrival order, so the delay never reorders.
 * The queue is bounded (--max packets): a packet that finds it full is accepted at once (counted),
 * which is what a link with no more buffer would do to the delay, not to the data.
 *
 * Single-threaded: one poll() loop on the netlink socket, its timeout the head packet's due time.
 * SIGTERM/SIGINT: accepts every packet still held, unbinds and exits 0 (so nothing is lost when
 * the driver changes the delay). --queue-bypass on the rule lets packets through while no
 * program is bound.
 *
 * Usage: nfq-delay --queue N --delay MS [--max PACKETS]
 */
/* arpa/inet.h before linux/netfilter.h: the kernel header defines struct in_addr otherwise. */
#include <arpa/inet.h>
#include <sys/socket.h>
#include <errno.h>
#include <getopt.h>
#include <linux/netfilter.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

typedef struct {
  uint32_t id;
  int64_t due_us;
} Held;

static volatile sig_atomic_t stop_requested;
static Held *ring;
static size_t ring_cap, ring_head, ring_len;
static int64_t delay_us;
static unsigned long n_delayed, n_overflow;

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static int on_packet(struct nfq_q_handle *qh, struct nfgenmsg *msg, struct nfq_data *nfa, void *data) {
  (void)msg;
  (void)data;
  struct nfqnl_msg_packet_hdr *ph = nfq_get_msg_packet_hdr(nfa);
  if (!ph) return 0;
  uint32_t id = ntohl(ph->packet_id);
  if (ring_len == ring_cap) {
    n_overflow++;
    return nfq_set_verdict(qh, id, NF_ACCEPT, 0, NULL);
  }
  ring[(ring_head + ring_len) % ring_cap] = (Held){ id, now_us() + delay_us };
  ring_len++;
  n_delayed++;
  return 0;
}

/* Accepts every held packet due by `until` (all of them when until < 0). */
static void release(struct nfq_q_handle *qh, int64_t until) {
  while (ring_len > 0 && (until < 0 || ring[ring_head].due_us <= until)) {
    nfq_set_verdict(qh, ring[ring_head].id, NF_ACCEPT, 0, NULL);
    ring_head = (ring_head + 1) % ring_cap;
    ring_len--;
  }
}

int main(int argc, char **argv) {
  int queue = -1;
  long delay_ms = -1, max = 20000;
  static const struct option opts[] = {
    { "queue", required_argument, NULL, 'q' },
    { "delay", required_argument, NULL, 'd' },
    { "max", required_argument, NULL, 'm' },
    { NULL, 0, NULL, 0 },
  };
  for (int c; (c = getopt_long(argc, argv, "q:d:m:", opts, NULL)) != -1;) {
    switch (c) {
    case 'q': queue = atoi(optarg); break;
    case 'd': delay_ms = atol(optarg); break;
    case 'm': max = atol(optarg); break;
    default: fprintf(stderr, "usage: %s --queue N --delay MS [--max PACKETS]\n", argv[0]); return 2;
    }
  }
  if (queue < 0 || queue > 65535 || delay_ms < 0 || delay_ms > 10000 || max < 16) {
    fprintf(stderr, "usage: %s --queue N --delay MS [--max PACKETS]\n", argv[0]);
    return 2;
  }
  delay_us = delay_ms * 1000;
  ring_cap = (size_t)max;
  ring = calloc(ring_cap, sizeof *ring);
  if (!ring) return 1;

  struct sigaction sa = { .sa_handler = on_signal };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  int rc = 1;
  struct nfq_q_handle *qh = NULL;
  struct nfq_handle *h = nfq_open();
  if (!h) {
    perror("nfq_open");
    goto out;
  }
  qh = nfq_create_queue(h, (uint16_t)queue, on_packet, NULL);
  if (!qh) {
    perror("nfq_create_queue (is another program bound to this queue?)");
    goto out;
  }
  /* Metadata only: the verdict needs the id, not the bytes. */
  if (nfq_set_mode(qh, NFQNL_COPY_META, 0) < 0) {
    perror("nfq_set_mode");
    goto out;
  }
  nfq_set_queue_maxlen(qh, (uint32_t)max);
  /* If the kernel's queue overflows anyway, let packets through rather than drop them. */
  nfq_set_queue_flags(qh, NFQA_CFG_F_FAIL_OPEN, NFQA_CFG_F_FAIL_OPEN);

  int fd = nfq_fd(h);
  /* A large receive buffer: at 5 Mbit/s a 300 ms delay holds a few hundred packets. */
  nfnl_rcvbufsiz(nfq_nfnlh(h), 8 * 1024 * 1024);
  char buf[4096] __attribute__((aligned));
  fprintf(stderr, "nfq-delay: queue %d, delay %ld ms, max %ld packets\n", queue, delay_ms, max);
  while (!stop_requested) {
    int timeout_ms = -1;
    if (ring_len > 0) {
      int64_t wait = ring[ring_head].due_us - now_us();
      timeout_ms = wait <= 0 ? 0 : (int)((wait + 999) / 1000);
    }
    if (timeout_ms < 0 || timeout_ms > 200) timeout_ms = 200; /* to notice SIGTERM */
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    int n = poll(&pfd, 1, timeout_ms);
    if (n < 0 && errno != EINTR) {
      perror("poll");
      goto out;
    }
    if (n > 0 && (pfd.revents & POLLIN)) {
      /* Drain what is there without blocking. */
      for (;;) {
        ssize_t len = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (len < 0) {
          if (errno == ENOBUFS) { /* the kernel dropped messages: fail-open let them through */
            n_overflow++;
            continue;
          }
          break;
        }
        nfq_handle_packet(h, buf, (int)len);
      }
    }
    release(qh, now_us());
  }
  rc = 0;
out:
  if (qh) {
    release(qh, -1);
    nfq_destroy_queue(qh);
  }
  if (h) nfq_close(h);
  fprintf(stderr, "nfq-delay: queue %d: %lu delayed, %lu passed undelayed (queue full)\n", queue, n_delayed,
          n_overflow);
  free(ring);
  return rc;
}
