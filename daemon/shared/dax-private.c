/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Onlining dax devices as private memory nodes (see dax-private.h). */
#include <daxctl/libdaxctl.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dax-private.h"
#include "devices.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

uint32_t device_private_services(const Config *c, const DeviceConf *d) {
        if (d->private_services_set)
                return d->private_services;
        return PRIVATE_USER_NUMA | PRIVATE_RECLAIM | PRIVATE_HOTUNPLUG | (c->demotion ? PRIVATE_DEMOTION : 0);
}

/* ---- plain sysfs ---- */

static int path_at(char *buf, size_t len, const char *root, const char *path) {
        int n = snprintf(buf, len, "%s%s", root, path);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static int default_read(void *userdata, const char *root, const char *path, char *buf, size_t len) {
        char p[512];
        int r;

        (void) userdata;
        if ((r = path_at(p, sizeof p, root, path)) < 0)
                return r;
        r = read_one_line(p, buf, len);
        return r == -ENODATA ? 0 : r; /* an empty attribute reads as "" */
}

static int default_write(void *userdata, const char *root, const char *path, const char *value) {
        char p[512];
        int r;

        (void) userdata;
        if ((r = path_at(p, sizeof p, root, path)) < 0)
                return r;
        return write_one_value(p, value, root[0] ? WRITE_TRUNCATE : 0);
}

static int read_driver(const char *root, const char *dax, char *buf, size_t len) {
        char p[512], target[512];
        ssize_t n;
        int r = snprintf(p, sizeof p, "%s/sys/bus/dax/devices/%s/driver", root, dax);

        buf[0] = '\0';
        if (r < 0 || (size_t) r >= sizeof p)
                return -ENAMETOOLONG;
        n = readlink(p, target, sizeof target - 1);
        if (n < 0)
                return errno == ENOENT ? 0 : -errno; /* no driver link: unbound */
        target[n] = '\0';
        const char *base = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
        if (strlen(base) >= len)
                return -ENAMETOOLONG;
        memcpy(buf, base, strlen(base) + 1);
        return 0;
}

static int default_bind(void *userdata, const char *root, const char *dax, const char *driver) {
        char p[256], now[32];
        int r;

        if (!root[0]) {
                /* the running system: as daxctl reconfigure-device does, through libdaxctl */
                struct daxctl_ctx *ctx = NULL;
                struct daxctl_dev *dev = NULL;

                r = device_daxctl_open(dax, &ctx, &dev);
                if (r >= 0) {
                        r = daxctl_dev_is_enabled(dev) ? daxctl_dev_disable(dev) : 0;
                        if (r >= 0)
                                r = strcmp(driver, "kmem") == 0 ? daxctl_dev_enable_ram(dev)
                                                                : daxctl_dev_enable_devdax(dev);
                }
                if (ctx)
                        daxctl_unref(ctx);
                return r < 0 ? r : 0;
        }
        /* a tree under root: the driver's bind/unbind files, as sysfs has them */
        r = read_driver(root, dax, now, sizeof now);
        if (r < 0)
                return r;
        if (now[0]) {
                snprintf(p, sizeof p, "/sys/bus/dax/drivers/%s/unbind", now);
                r = default_write(userdata, root, p, dax);
                if (r < 0)
                        return r;
        }
        snprintf(p, sizeof p, "/sys/bus/dax/drivers/%s/bind", driver);
        return default_write(userdata, root, p, dax);
}

const SysfsOps sysfs_ops_default = { default_read, default_write, default_bind, NULL };

/* ---- the device ---- */

static int attr_path(char *buf, size_t len, const char *dax, const char *attr) {
        int n = snprintf(buf, len, "/sys/bus/dax/devices/%s/%s", dax, attr);
        return n < 0 || (size_t) n >= len ? -ENAMETOOLONG : 0;
}

static int read_attr(const SysfsOps *ops, const char *root, const char *dax, const char *attr, char *buf,
                     size_t len) {
        char p[160];
        int r = attr_path(p, sizeof p, dax, attr);
        return r < 0 ? r : ops->read(ops->userdata, root, p, buf, len);
}

static int write_attr(const SysfsOps *ops, const char *root, const char *dax, const char *attr, const char *value) {
        char p[160];
        int r = attr_path(p, sizeof p, dax, attr);

        if (r < 0)
                return r;
        r = ops->write(ops->userdata, root, p, value);
        log_debug("%s: %s <- %s: %s", dax, attr, value, r < 0 ? strerror(-r) : "ok");
        return r;
}

static bool is_online(const char *state) {
        return strncmp(state, "online", 6) == 0;
}

bool dax_private_is_online(const DaxPrivateInfo *i) {
        return i->private_on && is_online(i->state);
}

int dax_private_read(const SysfsOps *ops, const char *root, const char *dax, DaxPrivateInfo *ret) {
        DaxPrivateInfo i = {};
        char v[sizeof i.state];
        int r;

        ops = ops ?: &sysfs_ops_default;
        r = read_attr(ops, root, dax, "private", v, sizeof v);
        if (r < 0 && r != -ENOENT)
                return r;
        i.has_private = r >= 0;
        i.private_on = r >= 0 && strcmp(v, "1") == 0;
        if (read_attr(ops, root, dax, "state", v, sizeof v) >= 0)
                snprintf(i.state, sizeof i.state, "%s", v);
        for (unsigned k = 0; k < PRIVATE_SERVICE_COUNT; k++)
                if (read_attr(ops, root, dax, private_service_name(k), v, sizeof v) >= 0) {
                        i.services_known |= 1u << k;
                        if (strcmp(v, "1") == 0)
                                i.services |= 1u << k;
                }
        r = read_driver(root, dax, i.driver, sizeof i.driver);
        if (r < 0)
                return r;
        *ret = i;
        return 0;
}

PrivateChoice device_private_choice(Tristate want, bool kernel_private, const DaxPrivateInfo *info, const char *dax,
                                    char *why, size_t why_len) {
        bool online_public = info->driver[0] && strcmp(info->driver, "kmem") == 0 && is_online(info->state) &&
                             !info->private_on;

        why[0] = '\0';
        if (want == TRISTATE_NO)
                return PRIVATE_CHOICE_PUBLIC;
        if (!kernel_private && !info->has_private) {
                if (want == TRISTATE_AUTO)
                        return PRIVATE_CHOICE_PUBLIC;
                snprintf(why, why_len,
                         "%s: Private=yes, but %s (the private-node patches' dax_kmem ABI); "
                         "Private=auto onlines it as system RAM",
                         dax, "this kernel has no private memory nodes (no node/has_public_memory and no "
                              "\"private\" attribute on the device)");
                return PRIVATE_CHOICE_ERROR;
        }
        if (online_public) {
                if (want == TRISTATE_AUTO)
                        return PRIVATE_CHOICE_PUBLIC; /* taking it offline would move its memory: leave it */
                snprintf(why, why_len,
                         "%s: Private=yes, but it is online as system RAM (state %s); the private attribute can "
                         "change only while it is unplugged: 'spmctl device release %s' and start spmd again",
                         dax, info->state, dax);
                return PRIVATE_CHOICE_ERROR;
        }
        return PRIVATE_CHOICE_PRIVATE;
}

typedef struct Undo {
        bool rebind;               /* we bound it to kmem: back to this driver */
        char driver[32];
        bool private_written;
        bool private_was;
        uint32_t written, was;     /* opt-ins written, and what they read before */
} Undo;

/* Put back what u says was changed; returns the words to append to the failure message. */
static const char *undo(const SysfsOps *ops, const char *root, const char *dax, const Undo *u) {
        bool ok = true;

        for (unsigned k = 0; k < PRIVATE_SERVICE_COUNT; k++)
                if (u->written & (1u << k))
                        ok &= write_attr(ops, root, dax, private_service_name(k), u->was & (1u << k) ? "1" : "0") >= 0;
        if (u->private_written)
                ok &= write_attr(ops, root, dax, "private", u->private_was ? "1" : "0") >= 0;
        if (u->rebind)
                ok &= ops->bind(ops->userdata, root, dax, u->driver[0] ? u->driver : "device_dax") >= 0;
        if (!ok)
                return "; putting it back as it was failed in part, see 'daxctl list' and its attributes";
        return u->rebind ? "; put it back as it was (attributes and driver)"
                         : u->written || u->private_written ? "; put its attributes back as they were" : "";
}

int dax_private_online(const SysfsOps *ops, const char *root, const char *dax, uint32_t services, MemZone zone,
                       char **ret_message) {
        const char *online = zone == MEM_ZONE_MOVABLE ? "online_movable" : "online_kernel";
        char s1[128], s2[128];
        DaxPrivateInfo i;
        Undo u = {};
        int r;

        ops = ops ?: &sysfs_ops_default;
        r = dax_private_read(ops, root, dax, &i);
        if (r < 0)
                return set_message(ret_message, r == -ENOENT ? -ENODEV : r, "%s: cannot read the device: %s", dax,
                           strerror(-r));
        if (dax_private_is_online(&i)) {
                if ((i.services & PRIVATE_SERVICES_ALL) == services)
                        return set_message(ret_message, DEVICE_ALREADY_ONLINE, "%s: already online as a private node (%s; %s)",
                                   dax, i.state, private_services_format(services, s1, sizeof s1));
                return set_message(ret_message, DEVICE_ONLINE_DEGRADED,
                           "%s: online as a private node with services %s, the configuration asks for %s; "
                           "they change only while it is unplugged ('spmctl device release %s', then start "
                           "spmd again)",
                           dax, private_services_format(i.services, s1, sizeof s1),
                           private_services_format(services, s2, sizeof s2), dax);
        }
        /* 1. bound to kmem: the opt-ins and state belong to the kmem driver's device */
        if (strcmp(i.driver, "kmem") != 0) {
                u.rebind = true;
                snprintf(u.driver, sizeof u.driver, "%s", i.driver);
                r = ops->bind(ops->userdata, root, dax, "kmem");
                if (r < 0) {
                        (void) ops->bind(ops->userdata, root, dax, i.driver[0] ? i.driver : "device_dax");
                        return set_message(ret_message, r, "%s: cannot bind it to kmem: %s", dax, strerror(-r));
                }
                r = dax_private_read(ops, root, dax, &i);
                if (r < 0)
                        return set_message(ret_message, r, "%s: cannot read it after binding it to kmem: %s%s", dax,
                                   strerror(-r), undo(ops, root, dax, &u));
        }
        if (!i.has_private)
                return set_message(ret_message, -EOPNOTSUPP, "%s: bound to kmem, it has no \"private\" attribute%s", dax,
                           undo(ops, root, dax, &u));
        /* 2. unplugged: the only state the attributes can be written in (the kernel auto-onlined it as
         * system RAM when kmem was bound, or it is offline) */
        if (strcmp(i.state, "unplugged") != 0) {
                if (!u.rebind && is_online(i.state))
                        return set_message(ret_message, -EBUSY,
                                   "%s: online as system RAM (state %s); it must be released first "
                                   "('spmctl device release %s')",
                                   dax, i.state, dax);
                r = write_attr(ops, root, dax, "state", "unplugged");
                if (r < 0)
                        return set_message(ret_message, r, "%s: writing unplugged to its state (it read %s): %s%s", dax,
                                   i.state[0] ? i.state : "nothing", strerror(-r), undo(ops, root, dax, &u));
        }
        /* 3. private, then each opt-in, then online: the order the ABI requires */
        u.private_was = i.private_on;
        u.private_written = true;
        r = write_attr(ops, root, dax, "private", "1");
        if (r < 0)
                return set_message(ret_message, r, "%s: writing 1 to its private attribute: %s%s", dax, strerror(-r),
                           undo(ops, root, dax, &u));
        /* the opt-ins show once the device is private */
        r = dax_private_read(ops, root, dax, &i);
        if (r < 0)
                return set_message(ret_message, r, "%s: cannot read it after writing private: %s%s", dax, strerror(-r),
                           undo(ops, root, dax, &u));
        if (services & ~i.services_known)
                return set_message(ret_message, -EOPNOTSUPP,
                           "%s: the kernel has no attribute for service(s) %s (PrivateServices=)%s", dax,
                           private_services_format(services & ~i.services_known, s1, sizeof s1),
                           undo(ops, root, dax, &u));
        u.was = i.services;
        for (unsigned k = 0; k < PRIVATE_SERVICE_COUNT; k++) {
                bool want = services & (1u << k);

                if (!(i.services_known & (1u << k)) || want == !!(i.services & (1u << k)))
                        continue;
                u.written |= 1u << k;
                r = write_attr(ops, root, dax, private_service_name(k), want ? "1" : "0");
                if (r < 0)
                        return set_message(ret_message, r, "%s: writing %d to its %s attribute: %s%s", dax, want,
                                   private_service_name(k), strerror(-r), undo(ops, root, dax, &u));
        }
        r = write_attr(ops, root, dax, "state", online);
        if (r < 0)
                return set_message(ret_message, r, "%s: the kernel refused %s in its state attribute with services %s: %s%s",
                           dax, online, private_services_format(services, s1, sizeof s1), strerror(-r),
                           undo(ops, root, dax, &u));
        r = read_attr(ops, root, dax, "state", s2, sizeof s2);
        if (r < 0 || !is_online(s2))
                return set_message(ret_message, -EIO, "%s: wrote %s, but its state reads %s", dax, online,
                           r < 0 ? strerror(-r) : s2);
        return set_message(ret_message, DEVICE_ONLINED, "%s: online as a private node (%s; services %s)", dax, s2,
                   private_services_format(services, s1, sizeof s1));
}

int dax_private_release(const SysfsOps *ops, const char *root, const char *dax, char **ret_message) {
        DaxPrivateInfo i;
        int r;

        ops = ops ?: &sysfs_ops_default;
        r = dax_private_read(ops, root, dax, &i);
        if (r < 0)
                return set_message(ret_message, r == -ENOENT ? -ENODEV : r, "%s: no such dax device", dax);
        if (strcmp(i.state, "unplugged") != 0 && i.state[0]) {
                /* the kernel migrates what it can off the node before it removes the memory */
                r = write_attr(ops, root, dax, "state", "unplugged");
                if (r < 0)
                        return set_message(ret_message, r == -EBUSY ? -EBUSY : r,
                                   "%s: writing unplugged to its state: %s; the device stays online (%s) and "
                                   "nothing was lost",
                                   dax, r == -EBUSY ? "pages in use" : strerror(-r), i.state);
        }
        for (unsigned k = 0; k < PRIVATE_SERVICE_COUNT; k++)
                if (i.services & (1u << k)) {
                        r = write_attr(ops, root, dax, private_service_name(k), "0");
                        if (r < 0)
                                return set_message(ret_message, r, "%s: unplugged, but writing 0 to its %s attribute: %s",
                                           dax, private_service_name(k), strerror(-r));
                }
        if (i.private_on) {
                r = write_attr(ops, root, dax, "private", "0");
                if (r < 0)
                        return set_message(ret_message, r, "%s: unplugged, but writing 0 to its private attribute: %s", dax,
                                   strerror(-r));
        }
        r = ops->bind(ops->userdata, root, dax, "device_dax");
        if (r < 0)
                return set_message(ret_message, r, "%s: unplugged, but it cannot be returned to devdax: %s", dax,
                           strerror(-r));
        return set_message(ret_message, 0, "%s: released, back in devdax mode", dax);
}
