/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One logger for spmd and the libraries it uses. Messages go to the journal
 * with structured fields (PRIORITY, CODE_*, ERRNO, SYSLOG_IDENTIFIER and any
 * extra fields the caller passes) when spmd runs under systemd, to stderr
 * otherwise.
 */
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <systemd/sd-journal.h>

#include "log.h"

#define LINE_MAX_LEN 2048

static int max_level = LOG_INFO;
static LogTarget target = LOG_TARGET_AUTO;
static LogTarget effective = LOG_TARGET_CONSOLE;
static const char *ident = "spmd";

static const char *const level_names[] = {
        [LOG_EMERG] = "emerg",   [LOG_ALERT] = "alert",   [LOG_CRIT] = "crit",  [LOG_ERR] = "err",
        [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

static const char *const target_names[_LOG_TARGET_MAX] = {
        [LOG_TARGET_AUTO] = "auto",
        [LOG_TARGET_CONSOLE] = "console",
        [LOG_TARGET_JOURNAL] = "journal",
};

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_target(LogTarget t) {
        target = t;
        log_open();
}

LogTarget log_get_target(void) {
        return effective;
}

void log_set_ident(const char *s) {
        ident = s;
}

static int stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        unsigned long long dev, ino;
        struct stat st;

        if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
                return 0;
        if (fstat(STDERR_FILENO, &st) < 0)
                return 0;
        return (unsigned long long) st.st_dev == dev && (unsigned long long) st.st_ino == ino;
}

void log_open(void) {
        if (target == LOG_TARGET_AUTO)
                effective = stderr_is_journal() ? LOG_TARGET_JOURNAL : LOG_TARGET_CONSOLE;
        else
                effective = target;
}

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcasecmp(s, level_names[i]) == 0)
                        return (int) i;
        if (strcasecmp(s, "error") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        /* Numeric syslog levels, as systemd accepts them. */
        if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
                return s[0] - '0';
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level < 0 || level >= (int) ELEMENTSOF(level_names))
                return NULL;
        return level_names[level];
}

LogTarget log_target_from_string(const char *s) {
        for (int i = 0; i < _LOG_TARGET_MAX; i++)
                if (s && strcmp(s, target_names[i]) == 0)
                        return (LogTarget) i;
        return _LOG_TARGET_INVALID;
}

static void strip_trailing_newlines(char *s) {
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
                s[--n] = '\0';
}

void log_struct_internal(int level, const char *file, int line, const char *func, const char *message,
                         const char *const *fields) {
        if ((level & LOG_PRIMASK) > max_level)
                return;

        if (effective == LOG_TARGET_JOURNAL) {
                char f_msg[LINE_MAX_LEN + 16], f_prio[16], f_file[256], f_line[32], f_func[128], f_ident[64];
                struct iovec iov[6 + 32];
                size_t n = 0;

                snprintf(f_msg, sizeof f_msg, "MESSAGE=%s", message);
                snprintf(f_prio, sizeof f_prio, "PRIORITY=%d", level & LOG_PRIMASK);
                snprintf(f_file, sizeof f_file, "CODE_FILE=%s", strempty(file));
                snprintf(f_line, sizeof f_line, "CODE_LINE=%d", line);
                snprintf(f_func, sizeof f_func, "CODE_FUNC=%s", strempty(func));
                snprintf(f_ident, sizeof f_ident, "SYSLOG_IDENTIFIER=%s", ident);
                const char *base[] = { f_msg, f_prio, f_file, f_line, f_func, f_ident };
                for (size_t i = 0; i < ELEMENTSOF(base); i++)
                        iov[n++] = (struct iovec){ (void *) base[i], strlen(base[i]) };
                for (size_t i = 0; fields && fields[i] && n < ELEMENTSOF(iov); i++)
                        iov[n++] = (struct iovec){ (void *) fields[i], strlen(fields[i]) };
                if (sd_journal_sendv(iov, (int) n) >= 0)
                        return;
                /* Journal unreachable: fall through to stderr rather than lose the message. */
        }

        fprintf(stderr, "%s\n", message);
}

int log_internalv(int level, int error, const char *file, int line, const char *func, const char *fmt,
                  va_list ap) {
        char buf[LINE_MAX_LEN], errno_field[32];
        int saved_errno = errno;

        if (error < 0)
                error = -error;
        if ((level & LOG_PRIMASK) > max_level) {
                errno = saved_errno;
                return -error;
        }

        /* Make %m print the error we were given, not whatever errno happens to hold. */
        errno = error;
        vsnprintf(buf, sizeof buf, fmt, ap);
        strip_trailing_newlines(buf);

        const char *fields[2] = {};
        if (error > 0) {
                snprintf(errno_field, sizeof errno_field, "ERRNO=%d", error);
                fields[0] = errno_field;
        }
        log_struct_internal(level, file, line, func, buf, fields);

        errno = saved_errno;
        return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...) {
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = log_internalv(level, error, file, line, func, fmt, ap);
        va_end(ap);
        return r;
}

void log_prefixedv(int level, const char *lib, const char *file, int line, const char *fn, const char *format,
                   va_list args) {
        char buf[LINE_MAX_LEN];

        if (level > max_level)
                return;
        vsnprintf(buf, sizeof buf, format, args);
        strip_trailing_newlines(buf);
        if (buf[0] == '\0')
                return;
        /* libbpf prefixes its messages with "libbpf: " already. */
        if (strncmp(buf, lib, strlen(lib)) == 0)
                log_internal(level, 0, file, line, fn, "%s", buf);
        else
                log_internal(level, 0, file, line, fn, "%s: %s", lib, buf);
}

bool log_ratelimit_pass(LogRateLimit *rl, const char *what) {
        struct timespec ts;
        unsigned long long now;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        now = (unsigned long long) ts.tv_sec * 1000000ULL + (unsigned long long) ts.tv_nsec / 1000ULL;
        if (now - rl->window_start_usec >= 1000000) {
                if (rl->suppressed > 0)
                        log_warning("%u more %s in the last second not logged one by one.", rl->suppressed, what);
                rl->window_start_usec = now;
                rl->in_window = rl->suppressed = 0;
        }
        if (++rl->in_window > LOG_BURST) {
                rl->suppressed++;
                return false;
        }
        return true;
}

int set_message(char **ret_message, int r, const char *fmt, ...) {
        va_list ap;

        if (!ret_message)
                return r;
        free(*ret_message);
        va_start(ap, fmt);
        if (vasprintf(ret_message, fmt, ap) < 0)
                *ret_message = NULL;
        va_end(ap);
        return r;
}
