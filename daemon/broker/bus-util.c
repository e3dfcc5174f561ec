/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bus-util.h"
#include "log.h"
#include "macro.h"
#include "parse-util.h"

/* ---- signals ---- */

int bus_append_nodemask(sd_bus_message *msg, const NodeMask *mask) {
        int r = sd_bus_message_open_container(msg, 'a', "u");
        if (r < 0)
                return r;
        for (unsigned i = 0; i < SPMD_MAX_NODES; i++)
                if (nodemask_test(mask, i) && (r = sd_bus_message_append(msg, "u", i)) < 0)
                        return r;
        return sd_bus_message_close_container(msg);
}

void caller_groups(CallerInfo *c) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int n = (int) ELEMENTSOF(c->gids);

        c->user[0] = '\0';
        c->n_gids = 0;
        if (getpwuid_r(c->uid, &pw, buf, sizeof buf, &res) != 0 || !res)
                return;
        str_copy_cut(c->user, sizeof c->user, res->pw_name);
        /* group membership from the user database, as polkit's unix-group does */
        if (getgrouplist(res->pw_name, res->pw_gid, c->gids, &n) < 0)
                n = (int) ELEMENTSOF(c->gids);
        c->n_gids = (size_t) n;
}

/* The cgroup2 path of pid, from /proc/PID/cgroup ("0::/path"); "" when unknown. */
static void pid_cgroup(pid_t pid, char *buf, size_t len) {
        char p[64];
        FILE *f;

        buf[0] = '\0';
        if (pid <= 0)
                return;
        snprintf(p, sizeof p, "/proc/%d/cgroup", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return;
        (void) proc_cgroup_parse(f, buf, len); /* leaves "" (unknown) when it fails */
        fclose(f);
}

/*
 * uid and pid of a connection never change, and unique names are never
 * reused on one bus: the answers are kept while the sender is connected (it
 * leaves the cache when NameOwnerChanged says it left), so a client that
 * asks many times costs one GetConnectionCredentials. With them a pidfd of
 * the process that connected: the bus daemon's (ProcessFD, where it gives
 * one), else one spmd opens when it first hears from the connection. Up to
 * CREDS_CACHE connected senders are kept (spmd raises its soft RLIMIT_NOFILE
 * for their pidfds); beyond that, kept entries give way in turn.
 */
#define CREDS_CACHE 1024
#define UID_INVALID ((uid_t) -1)
static struct {
        char sender[64];
        uid_t uid;
        pid_t pid;
        int pidfd;               /* -1: the process had exited when spmd opened it */
        bool pidfd_from_bus;
        uint64_t seen_ticks;     /* when spmd first heard of the connection, CLOCK_BOOTTIME clock ticks */
} creds_cache[CREDS_CACHE];
static size_t n_creds;     /* creds_cache[0..n_creds) are in use */
static unsigned creds_next; /* the entry that gives way next when all are in use */

/* When each unique name connected, as NameOwnerChanged told (clock ticks since boot). */
#define SEEN_MAX 1024
static struct {
        char name[32];
        uint64_t ticks;
} seen_names[SEEN_MAX];
static unsigned seen_next;

static uint64_t boottime_ticks(void) {
        struct timespec ts;
        long tck = sysconf(_SC_CLK_TCK);

        clock_gettime(CLOCK_BOOTTIME, &ts);
        return ((uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec) / (1000000000ULL / (tck > 0 ? tck : 100));
}

void caller_cache_clear(void) {
        for (size_t i = 0; i < n_creds; i++)
                safe_close(creds_cache[i].pidfd);
        memset(creds_cache, 0, n_creds * sizeof creds_cache[0]);
        n_creds = 0;
        memset(seen_names, 0, sizeof seen_names);
}

static size_t creds_find(const char *sender) {
        size_t i;

        for (i = 0; sender && i < n_creds; i++)
                if (strcmp(creds_cache[i].sender, sender) == 0)
                        return i;
        return CREDS_CACHE;
}

/* SENDER left the bus: what spmd kept of it goes, its pidfd closed (the last entry takes its place). */
static void creds_forget(const char *sender) {
        size_t i = creds_find(sender);

        if (i == CREDS_CACHE)
                return;
        safe_close(creds_cache[i].pidfd);
        creds_cache[i] = creds_cache[--n_creds];
        memset(&creds_cache[n_creds], 0, sizeof creds_cache[0]);
}

void caller_name_owner_changed(const char *name, const char *old_owner, const char *new_owner) {
        assert(name && old_owner && new_owner);
        if (name[0] != ':')
                return;
        if (!old_owner[0] && new_owner[0] && strlen(name) < sizeof seen_names[0].name) {
                unsigned k = seen_next++ % SEEN_MAX;
                snprintf(seen_names[k].name, sizeof seen_names[k].name, "%s", name);
                seen_names[k].ticks = boottime_ticks();
        } else if (!new_owner[0]) {
                for (size_t i = 0; i < SEEN_MAX; i++)
                        if (strcmp(seen_names[i].name, name) == 0)
                                seen_names[i].name[0] = '\0';
                creds_forget(name);
        }
}

static uint64_t name_seen_ticks(const char *sender) {
        for (size_t i = 0; sender && i < SEEN_MAX; i++)
                if (strcmp(seen_names[i].name, sender) == 0)
                        return seen_names[i].ticks;
        return boottime_ticks(); /* connected before spmd listened, or out of the table: now */
}

/* uid, pid and (where the bus daemon gives one) a pidfd of the sender, from the bus daemon's answer
 * to GetConnectionCredentials (an error answer is copied to ERROR). */
static int creds_parse(sd_bus_message *reply, uid_t *ret_uid, pid_t *ret_pid, int *ret_pidfd, sd_bus_error *error) {
        bool have_uid = false;
        uint32_t u;
        int r, fd;

        *ret_pid = 0;
        *ret_pidfd = -1;
        if (sd_bus_message_is_method_error(reply, NULL)) {
                r = sd_bus_error_copy(error, sd_bus_message_get_error(reply));
                return r < 0 ? r : -EACCES;
        }
        r = sd_bus_message_enter_container(reply, 'a', "{sv}");
        while (r >= 0 && (r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
                const char *key;

                r = sd_bus_message_read(reply, "s", &key);
                if (r < 0)
                        break;
                if (strcmp(key, "UnixUserID") == 0 && (r = sd_bus_message_read(reply, "v", "u", &u)) >= 0) {
                        *ret_uid = (uid_t) u;
                        have_uid = true;
                } else if (strcmp(key, "ProcessID") == 0 && (r = sd_bus_message_read(reply, "v", "u", &u)) >= 0)
                        *ret_pid = (pid_t) u;
                else if (strcmp(key, "ProcessFD") == 0 && (r = sd_bus_message_read(reply, "v", "h", &fd)) >= 0) {
                        if (*ret_pidfd < 0)
                                *ret_pidfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                } else if (r >= 0)
                        r = sd_bus_message_skip(reply, "v");
                if (r >= 0)
                        r = sd_bus_message_exit_container(reply);
        }
        if (r < 0) {
                if (*ret_pidfd >= 0)
                        *ret_pidfd = safe_close(*ret_pidfd);
                return r;
        }
        if (!have_uid) {
                if (*ret_pidfd >= 0)
                        *ret_pidfd = safe_close(*ret_pidfd);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The bus did not say the caller's uid.");
        }
        return 0;
}

/* Keep what the bus said of SENDER (takes PIDFD); SEEN_TICKS: when spmd first heard of it. */
static int creds_put(const char *sender, uid_t uid, pid_t pid, int pidfd, uint64_t seen_ticks, sd_bus_error *error) {
        size_t i;

        if (strlen(sender) >= sizeof creds_cache[0].sender) {
                safe_close(pidfd);
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED, "The sender's name is too long.");
        }
        if (creds_find(sender) < CREDS_CACHE) {
                safe_close(pidfd); /* another call of the same sender's got there first */
                return 0;
        }
        if (n_creds < CREDS_CACHE)
                i = n_creds++;
        else {
                i = creds_next++ % CREDS_CACHE;
                safe_close(creds_cache[i].pidfd);
        }
        snprintf(creds_cache[i].sender, sizeof creds_cache[i].sender, "%s", sender);
        creds_cache[i].uid = uid;
        creds_cache[i].pid = pid;
        creds_cache[i].pidfd_from_bus = pidfd >= 0;
        /* no pidfd from the bus: pin the process now; if its pid was reused before this, the start
         * time against the connection's own time gives it away (caller_identify) */
        creds_cache[i].pidfd = pidfd >= 0 ? pidfd : pid > 0 ? (int) syscall(SYS_pidfd_open, pid, 0) : -1;
        creds_cache[i].seen_ticks = seen_ticks;
        return 0;
}

/* A method call waiting for the bus daemon to say who sent it (caller_get). */
typedef struct CredsWait {
        void *userdata;
        sd_bus_message *msg;
        sd_bus_message_handler_t again;
        uint64_t seen_ticks;
} CredsWait;

static void creds_wait_free(void *p) {
        CredsWait *w = p;

        sd_bus_message_unref(w->msg);
        free(w);
}

/* The bus daemon answered: keep the credentials and run the method again from its start; now it
 * finds them. Its error, if any, is the reply. */
static int on_creds(sd_bus_message *reply, void *userdata, sd_bus_error *ret_error) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        CredsWait *w = userdata;
        const char *sender = sd_bus_message_get_sender(w->msg);
        uid_t uid = UID_INVALID;
        pid_t pid;
        int pidfd, r;

        (void) ret_error;
        r = creds_parse(reply, &uid, &pid, &pidfd, &error);
        if (r >= 0)
                r = creds_put(sender, uid, pid, pidfd, w->seen_ticks, &error);
        if (r >= 0)
                r = sd_bus_message_rewind(w->msg, true);
        if (r >= 0)
                r = w->again(w->msg, w->userdata, &error);
        if (r < 0) {
                if (!sd_bus_error_is_set(&error))
                        sd_bus_error_set_errnof(&error, r, "Cannot tell who is calling: %s", strerror(-r));
                (void) sd_bus_reply_method_error(w->msg, &error);
        }
        return 0;
}

/*
 * Who is calling, as the bus says: uid and pid from the bus daemon (one
 * GetConnectionCredentials call per connection; nothing taken from /proc for
 * them). The caller's cgroup, which only caller_identify() establishes, needs
 * more. Returns 0 with *c filled when spmd knows the sender; otherwise asks
 * the bus daemon without waiting and returns 1: the handler returns 1 too,
 * and AGAIN (the handler, with USERDATA) runs on the message
 * again once the answer is in. <0: refused, with ERROR.
 */
int caller_get(sd_bus_message *msg, sd_bus_message_handler_t again, void *userdata, CallerInfo *c,
               sd_bus_error *error) {
        _cleanup_(sd_bus_slot_unrefp) sd_bus_slot *slot = NULL;
        const char *sender = sd_bus_message_get_sender(msg);
        CredsWait *w;
        size_t i;
        int r;

        c->sender = sender;
        c->cgroup[0] = '\0';
        if (!sender)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The message has no sender: spmd cannot tell who is calling.");
        i = creds_find(sender);
        if (i == CREDS_CACHE) {
                w = calloc(1, sizeof *w);
                if (!w)
                        return -ENOMEM;
                *w = (CredsWait){ .userdata = userdata, .msg = sd_bus_message_ref(msg), .again = again,
                                  .seen_ticks = name_seen_ticks(sender) };
                r = sd_bus_call_method_async(sd_bus_message_get_bus(msg), &slot, "org.freedesktop.DBus",
                                             "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                             "GetConnectionCredentials", on_creds, w, "s", sender);
                if (r < 0) {
                        creds_wait_free(w);
                        return sd_bus_error_set_errnof(error, r, "Cannot tell who is calling: %s", strerror(-r));
                }
                /* the bus owns the call from here; W goes with it, answered or not */
                (void) sd_bus_slot_set_destroy_callback(slot, creds_wait_free);
                (void) sd_bus_slot_set_floating(slot, 1);
                return 1;
        }
        c->uid = creds_cache[i].uid;
        c->pid = creds_cache[i].pid;
        c->pidfd = creds_cache[i].pidfd;
        c->pidfd_from_bus = creds_cache[i].pidfd_from_bus;
        c->seen_ticks = creds_cache[i].seen_ticks;
        /* root is admitted without rules: no user database lookups for it */
        c->user[0] = '\0';
        c->n_gids = 0;
        if (c->uid != 0)
                caller_groups(c);
        return 0;
}

static bool pidfd_alive(int pidfd) {
        return pidfd >= 0 && syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0;
}

/* Field 22 (starttime, clock ticks since boot) and the effective uid of pid; false if it is gone. */
static bool proc_start_and_euid(pid_t pid, uint64_t *ret_start, uid_t *ret_euid) {
        char p[64], buf[1024];
        uint64_t start;
        unsigned ruid, euid;
        bool found = false, ok;
        FILE *f;

        snprintf(p, sizeof p, "/proc/%d/stat", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return false;
        ok = fgets(buf, sizeof buf, f) && parse_proc_stat_starttime(buf, &start) >= 0;
        fclose(f);
        if (!ok)
                return false;
        snprintf(p, sizeof p, "/proc/%d/status", (int) pid);
        f = fopen(p, "re");
        if (!f)
                return false;
        while (!found && fgets(buf, sizeof buf, f))
                found = sscanf(buf, "Uid: %u %u", &ruid, &euid) == 2;
        fclose(f);
        *ret_start = start;
        *ret_euid = (uid_t) euid;
        return found;
}

/*
 * The caller's cgroup, established or refused (fails closed): the process
 * that opened the connection must still run (a pidfd says so, whatever
 * happened to its pid), must not have started after spmd heard of the
 * connection (a reused pid, where the bus gave no pidfd), must run as the
 * connection's uid, and must still run after its cgroup was read, so the
 * cgroup read is its own.
 */
int caller_identify(CallerInfo *c, sd_bus_error *error) {
        uint64_t start;
        uid_t euid;

        if (c->pid <= 0)
                return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
                                        "The bus did not say which process is calling, so spmd cannot tell the "
                                        "caller's cgroup.");
        if (c->pidfd < 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The process that opened this bus connection (pid %d) had exited when "
                                         "spmd first heard from it, so spmd cannot tell the caller's cgroup. Ask "
                                         "from the process that connects.",
                                         (int) c->pid);
        if (!pidfd_alive(c->pidfd) || !proc_start_and_euid(c->pid, &start, &euid))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The process that opened this bus connection (pid %d) has exited (a child "
                                         "kept the connection), so spmd cannot tell the caller's cgroup.",
                                         (int) c->pid);
        log_debug("Caller pid %d: started at tick %" PRIu64 ", its connection seen at tick %" PRIu64 "%s.", (int) c->pid,
                  start, c->seen_ticks, c->pidfd_from_bus ? " (pidfd from the bus)" : "");
        if (!c->pidfd_from_bus && start > c->seen_ticks)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Pid %d belongs to a process that started after this bus connection was "
                                         "made: the connecting process has exited and its pid was reused.",
                                         (int) c->pid);
        if (euid != c->uid)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Pid %d runs as uid %u, not as uid %u that made this bus connection (the "
                                         "pid was reused, or the process changed its identity).",
                                         (int) c->pid, (unsigned) euid, (unsigned) c->uid);
        pid_cgroup(c->pid, c->cgroup, sizeof c->cgroup);
        if (c->cgroup[0] != '/')
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "Cannot read the cgroup of pid %d (no cgroup2 entry in /proc/%d/cgroup).",
                                         (int) c->pid, (int) c->pid);
        if (!pidfd_alive(c->pidfd))
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED,
                                         "The calling process (pid %d) exited while spmd read its cgroup.",
                                         (int) c->pid);
        return 0;
}

/* 0 when the caller is root; 1 while its credentials are asked for (see caller_get). */
int caller_require_root(sd_bus_message *msg, sd_bus_message_handler_t again, void *userdata, const char *what,
                        sd_bus_error *error) {
        CallerInfo c;
        int r = caller_get(msg, again, userdata, &c, error);

        if (r != 0)
                return r;
        if (c.uid != 0)
                return sd_bus_error_setf(error, SD_BUS_ERROR_ACCESS_DENIED, "%s is for root only (caller uid %u).",
                                         what, (unsigned) c.uid);
        return 0;
}

