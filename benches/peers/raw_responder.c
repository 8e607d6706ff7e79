/*
 * The raw responder: a FUSE server with no library, the limit of the /dev/fuse path.
 *
 * It mounts itself, then answers each request with one read(2) and one write(2) on
 * /dev/fuse, nothing else: no threads, no dispatch tables, no allocation. It serves a
 * root directory holding one read-only file, "hello", enough for the benchmark's
 * stat and open+read+close workloads; every other request gets ENOSYS.
 *
 * usage: raw_responder [-t SECONDS] MOUNTPOINT   (as root; stays in the foreground)
 *   -t  entry and attribute lifetimes in seconds (default 0: every stat is a round trip)
 *
 * Written for puffs-rs's benches/ from the kernel's <linux/fuse.h>; not derived from
 * any FUSE library.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#define ROOT 1
#define FILE_NODE 2

static const char text[] = "Hello, world!\n";
static uint64_t ttl;

/* The buffer holds the largest request the kernel sends with max_write = 128 KiB. */
static char in[(128 + 4) * 1024] __attribute__((aligned(8)));

static void reply(int fd, uint64_t unique, int error, const void *body, size_t len) {
    struct fuse_out_header out = {
        .len = (uint32_t)(sizeof out + (error ? 0 : len)),
        .error = -error,
        .unique = unique,
    };
    struct iovec iov[2] = {{&out, sizeof out}, {(void *)body, error ? 0 : len}};
    if (writev(fd, iov, 2) < 0 && errno != ENOENT) /* ENOENT: the request was interrupted */
        perror("raw_responder: writev");
}

static int attr_of(uint64_t node, struct fuse_attr *attr) {
    memset(attr, 0, sizeof *attr);
    attr->ino = node;
    attr->blksize = 4096;
    if (node == ROOT) {
        attr->mode = 040755;
        attr->nlink = 2;
    } else if (node == FILE_NODE) {
        attr->mode = 0100444;
        attr->nlink = 1;
        attr->size = sizeof text - 1;
    } else {
        return ENOENT;
    }
    return 0;
}

static void serve(int fd, struct fuse_in_header *h, const char *arg) {
    switch (h->opcode) {
    case FUSE_INIT: {
        const struct fuse_init_in *init = (const void *)arg;
        struct fuse_init_out out = {
            .major = FUSE_KERNEL_VERSION,
            .minor = FUSE_KERNEL_MINOR_VERSION,
            .max_readahead = init->max_readahead,
            .max_write = 128 * 1024,
            .max_pages = 32,
        };
        if (init->major != FUSE_KERNEL_VERSION) {
            reply(fd, h->unique, EPROTO, NULL, 0);
            return;
        }
        reply(fd, h->unique, 0, &out, sizeof out);
        return;
    }
    case FUSE_LOOKUP: {
        struct fuse_entry_out out = {0};
        if (h->nodeid != ROOT || strcmp(arg, "hello") != 0) {
            reply(fd, h->unique, ENOENT, NULL, 0);
            return;
        }
        out.nodeid = FILE_NODE;
        out.entry_valid = ttl;
        out.attr_valid = ttl;
        attr_of(FILE_NODE, &out.attr);
        reply(fd, h->unique, 0, &out, sizeof out);
        return;
    }
    case FUSE_GETATTR: {
        struct fuse_attr_out out = {.attr_valid = ttl};
        int error = attr_of(h->nodeid, &out.attr);
        reply(fd, h->unique, error, &out, sizeof out);
        return;
    }
    case FUSE_OPEN:
    case FUSE_OPENDIR: {
        struct fuse_open_out out = {0};
        reply(fd, h->unique, 0, &out, sizeof out);
        return;
    }
    case FUSE_READ: {
        const struct fuse_read_in *read = (const void *)arg;
        uint64_t size = sizeof text - 1, offset = read->offset;
        uint64_t n = offset < size ? size - offset : 0;
        if (n > read->size)
            n = read->size;
        reply(fd, h->unique, 0, text + (offset < size ? offset : size), n);
        return;
    }
    case FUSE_READDIR:
        reply(fd, h->unique, 0, NULL, 0);
        return;
    case FUSE_FLUSH:
    case FUSE_RELEASE:
    case FUSE_RELEASEDIR:
        reply(fd, h->unique, 0, NULL, 0);
        return;
    case FUSE_STATFS: {
        struct fuse_statfs_out out = {.st = {.bsize = 4096, .namelen = 255, .frsize = 4096}};
        reply(fd, h->unique, 0, &out, sizeof out);
        return;
    }
    case FUSE_FORGET:
    case FUSE_BATCH_FORGET:
    case FUSE_INTERRUPT:
        return; /* no reply */
    case FUSE_DESTROY:
        reply(fd, h->unique, 0, NULL, 0);
        exit(0);
    default:
        reply(fd, h->unique, ENOSYS, NULL, 0);
        return;
    }
}

int main(int argc, char **argv) {
    int opt;
    while ((opt = getopt(argc, argv, "t:")) != -1) {
        if (opt == 't') {
            ttl = strtoull(optarg, NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [-t SECONDS] MOUNTPOINT\n", argv[0]);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "usage: %s [-t SECONDS] MOUNTPOINT\n", argv[0]);
        return 2;
    }
    int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        perror("raw_responder: /dev/fuse");
        return 1;
    }
    char data[128];
    snprintf(data, sizeof data, "fd=%d,rootmode=40755,user_id=0,group_id=0,allow_other", fd);
    if (mount("raw", argv[optind], "fuse.raw", MS_NOSUID | MS_NODEV, data) < 0) {
        perror("raw_responder: mount");
        return 1;
    }
    for (;;) {
        ssize_t n = read(fd, in, sizeof in);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ENOENT)
                continue;
            if (errno == ENODEV) /* unmounted */
                return 0;
            perror("raw_responder: read");
            return 1;
        }
        if ((size_t)n < sizeof(struct fuse_in_header))
            continue;
        struct fuse_in_header *h = (void *)in;
        serve(fd, h, in + sizeof *h);
    }
}
