/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

typedef enum LogTarget {
        LOG_TARGET_AUTO,    /* journal when stderr is connected to it, else console */
        LOG_TARGET_CONSOLE,
        LOG_TARGET_JOURNAL,
        _LOG_TARGET_MAX,
        _LOG_TARGET_INVALID = -EINVAL,
} LogTarget;

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_target(LogTarget target);
LogTarget log_get_target(void);
void log_set_ident(const char *ident);

/* Decide LOG_TARGET_AUTO: journal when stderr is the journal stream systemd gave us. */
void log_open(void);

int log_level_from_string(const char *s);
const char *log_level_to_string(int level);
LogTarget log_target_from_string(const char *s);

/* Logs and returns -abs(error) (or 0 when error == 0). %m expands to strerror(error). */
int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
        _printf_(6, 7);
int log_internalv(int level, int error, const char *file, int line, const char *func, const char *fmt,
                  va_list ap) _printf_(6, 0);

/* Send a fully formatted message with extra journal fields ("KEY=value", NULL-terminated). */
void log_struct_internal(int level, const char *file, int line, const char *func, const char *message,
                         const char *const *fields);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...)   log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)    log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...)  log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...)   log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(e, ...)   log_full_errno(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...)    log_full_errno(LOG_INFO, (e), __VA_ARGS__)
#define log_notice_errno(e, ...)  log_full_errno(LOG_NOTICE, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_full_errno(LOG_ERR, (e), __VA_ARGS__)

/* At most a burst of log lines a second for one kind of event; the rest are counted. */
typedef struct LogRateLimit {
        unsigned long long window_start_usec;
        unsigned in_window, suppressed;
} LogRateLimit;
#define LOG_BURST 10 /* journal lines per second per kind of event; counters elsewhere see every event */
/* May this event be logged? Says how many were not ("N more WHAT ..."), once their second is over. */
bool log_ratelimit_pass(LogRateLimit *rl, const char *what);

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")

/* A library's message (vprintf-style) at level, prefixed with its name unless it already is: the
 * bridges in daemon/shared/log-libs.c. */
void log_prefixedv(int level, const char *lib, const char *file, int line, const char *fn, const char *format,
                   va_list args) _printf_(6, 0);

/* Replace *ret_message (if ret_message is not NULL) with the formatted text; returns r, so that
 * "return set_message(ret_message, -EIO, ...)" reports and fails in one. */
_printf_(3, 4) int set_message(char **ret_message, int r, const char *fmt, ...);
