/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Onlining a dax device as a private node, against a copy of tests/fixtures/dax-private whose
 * writes are answered the way the private-node ABI says the kernel answers them: the attributes
 * only while the device is unplugged (EBUSY otherwise), the opt-ins only once private reads 1,
 * state=online* only from unplugged and bound to kmem, demotion without reclaim refused there.
 * Every write is recorded, so the order is checked, and what a failure leaves is compared with
 * the tree it started from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dax-private.h"
#include "devices.h"
#include "topology.h"

static const char *fixtures; /* tests/fixtures/dax-private */
static char tmp[64];

typedef struct Fake {
        char log[32][48];
        size_t n;
        bool busy;           /* unplugging is refused: pages on the node cannot move */
        bool auto_online;    /* binding kmem onlines the memory as system RAM (memhp_default_state=online) */
        const char *missing; /* an attribute this kernel does not have */
} Fake;

static const char *base_name(const char *path) {
        const char *s = strrchr(path, '/');
        return s ? s + 1 : path;
}

static bool is_service(const char *attr) {
        return private_service_from_string(attr) != 0;
}

static int attr_read(const char *root, const char *attr, char *buf, size_t len) {
        char p[256];
        snprintf(p, sizeof p, "/sys/bus/dax/devices/dax0.0/%s", attr);
        return sysfs_ops_default.read(NULL, root, p, buf, len);
}

static int attr_write(const char *root, const char *attr, const char *v) {
        char p[256];
        snprintf(p, sizeof p, "/sys/bus/dax/devices/dax0.0/%s", attr);
        return sysfs_ops_default.write(NULL, root, p, v);
}

static int fake_read(void *userdata, const char *root, const char *path, char *buf, size_t len) {
        Fake *f = userdata;
        const char *attr = base_name(path);
        char priv[8] = "";

        if (f->missing && strcmp(attr, f->missing) == 0)
                return -ENOENT;
        if (is_service(attr) && (attr_read(root, "private", priv, sizeof priv) < 0 || strcmp(priv, "1") != 0))
                return -ENOENT; /* the opt-ins show only on a private device */
        return sysfs_ops_default.read(NULL, root, path, buf, len);
}

static void record(Fake *f, const char *what, const char *value) {
        assert_true(f->n < sizeof f->log / sizeof f->log[0]);
        snprintf(f->log[f->n++], sizeof f->log[0], "%s=%s", what, value);
}

static int fake_write(void *userdata, const char *root, const char *path, const char *value) {
        Fake *f = userdata;
        const char *attr = base_name(path);
        char state[32] = "", priv[8] = "", v[8];
        char driver[PATH_MAX], link[PATH_MAX];
        ssize_t n;

        record(f, attr, value);
        if (f->missing && strcmp(attr, f->missing) == 0)
                return -ENOENT;
        assert_int_equal(attr_read(root, "state", state, sizeof state), 0);
        assert_int_equal(attr_read(root, "private", priv, sizeof priv), 0);
        if (strcmp(attr, "state") == 0) {
                if (strcmp(value, "unplugged") == 0) {
                        if (strncmp(state, "online", 6) == 0 && f->busy)
                                return -EBUSY;
                        return attr_write(root, attr, value);
                }
                if (strncmp(value, "online", 6) != 0)
                        return -EINVAL;
                if (strcmp(state, "unplugged") != 0)
                        return -EBUSY;
                snprintf(link, sizeof link, "%s/sys/bus/dax/devices/dax0.0/driver", root);
                n = readlink(link, driver, sizeof driver - 1);
                if (n < 0 || (driver[n] = '\0', strcmp(base_name(driver), "kmem") != 0))
                        return -ENXIO;
                if (strcmp(priv, "1") == 0 && attr_read(root, "demotion", v, sizeof v) == 0 && strcmp(v, "1") == 0 &&
                    attr_read(root, "reclaim", v, sizeof v) == 0 && strcmp(v, "0") == 0)
                        return -EINVAL; /* checked at hotplug, not at write */
                return attr_write(root, attr, value);
        }
        if (strcmp(attr, "private") != 0 && !is_service(attr))
                return -EACCES; /* nothing else is written */
        if (strcmp(state, "unplugged") != 0)
                return -EBUSY;
        if (is_service(attr) && strcmp(priv, "1") != 0)
                return -ENOENT;
        if (strcmp(value, "0") != 0 && strcmp(value, "1") != 0)
                return -EINVAL;
        return attr_write(root, attr, value);
}

static int fake_bind(void *userdata, const char *root, const char *dax, const char *driver) {
        Fake *f = userdata;
        char link[PATH_MAX], target[64];

        record(f, "bind", driver);
        assert_string_equal(dax, "dax0.0");
        snprintf(link, sizeof link, "%s/sys/bus/dax/devices/dax0.0/driver", root);
        snprintf(target, sizeof target, "../../drivers/%s", driver);
        (void) unlink(link);
        if (symlink(target, link) < 0)
                return -errno;
        if (strcmp(driver, "kmem") == 0 && f->auto_online)
                return attr_write(root, "state", "online");
        return 0;
}

static void fresh(const char *which) {
        char cmd[PATH_MAX * 2];

        snprintf(cmd, sizeof cmd, "rm -rf '%s/t' && cp -a '%s/%s' '%s/t'", tmp, fixtures, which, tmp);
        assert_int_equal(system(cmd), 0);
}

static const char *root_of(const char *which) {
        static char buf[3][PATH_MAX];
        static int k;

        k = (k + 1) % 3;
        if (which)
                snprintf(buf[k], sizeof buf[k], "%s/%s", fixtures, which);
        else
                snprintf(buf[k], sizeof buf[k], "%s/t", tmp);
        return buf[k];
}

/* The device in the working tree reads like the fixture tree which, attribute for attribute. */
static void assert_tree_is(const char *which) {
        DaxPrivateInfo a, b;

        assert_int_equal(dax_private_read(&sysfs_ops_default, root_of(NULL), "dax0.0", &a), 0);
        assert_int_equal(dax_private_read(&sysfs_ops_default, root_of(which), "dax0.0", &b), 0);
        assert_string_equal(a.state, b.state);
        assert_string_equal(a.driver, b.driver);
        assert_int_equal(a.private_on, b.private_on);
        assert_int_equal(a.services, b.services);
}

static void assert_log(const Fake *f, const char *const *want) {
        size_t n = 0;

        while (want[n])
                n++;
        if (f->n != n) {
                for (size_t i = 0; i < f->n; i++)
                        print_error("  wrote %s\n", f->log[i]);
                fail_msg("%zu writes, want %zu", f->n, n);
        }
        for (size_t i = 0; i < n; i++)
                assert_string_equal(f->log[i], want[i]);
}

#define OPS(f) ((SysfsOps){ fake_read, fake_write, fake_bind, (f) })
#define DEFAULT_SERVICES (PRIVATE_USER_NUMA | PRIVATE_RECLAIM | PRIVATE_HOTUNPLUG)

static void test_online_in_abi_order(void **state) {
        Fake f = {};
        SysfsOps ops = OPS(&f);
        char *msg = NULL;

        (void) state;
        fresh("before");
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES, MEM_ZONE_MOVABLE, &msg),
                         DEVICE_ONLINED);
        assert_log(&f, (const char *const[]){ "bind=kmem", "private=1", "reclaim=1", "user_numa=1", "hotunplug=1",
                                               "state=online_movable", NULL });
        assert_non_null(strstr(msg, "online as a private node (online_movable; services reclaim user_numa hotunplug)"));
        assert_tree_is("after");
        free(msg);

        /* idempotent: a restart changes nothing */
        f = (Fake){};
        msg = NULL;
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES, MEM_ZONE_MOVABLE, &msg),
                         DEVICE_ALREADY_ONLINE);
        assert_int_equal(f.n, 0);
        free(msg);

        /* other services: reported, not cycled (that would take the node's memory away) */
        msg = NULL;
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES | PRIVATE_LTPIN,
                                            MEM_ZONE_MOVABLE, &msg),
                         DEVICE_ONLINE_DEGRADED);
        assert_int_equal(f.n, 0);
        assert_non_null(strstr(msg, "with services reclaim user_numa hotunplug, the configuration asks for reclaim "
                                    "user_numa hotunplug ltpin"));
        free(msg);
}

static void test_online_without_user_numa_normal_zone(void **state) {
        Fake f = {};
        SysfsOps ops = OPS(&f);
        char *msg = NULL;
        DaxPrivateInfo i;

        (void) state;
        fresh("before");
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", PRIVATE_RECLAIM, MEM_ZONE_NORMAL, &msg),
                         DEVICE_ONLINED);
        assert_log(&f, (const char *const[]){ "bind=kmem", "private=1", "reclaim=1", "state=online_kernel", NULL });
        assert_int_equal(dax_private_read(&ops, root_of(NULL), "dax0.0", &i), 0);
        assert_int_equal(i.services, PRIVATE_RECLAIM);
        free(msg);
}

static void test_kernel_onlined_it_first(void **state) {
        Fake f = { .auto_online = true };
        SysfsOps ops = OPS(&f);
        char *msg = NULL;

        (void) state;
        fresh("before");
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES, MEM_ZONE_MOVABLE, &msg),
                         DEVICE_ONLINED);
        assert_log(&f, (const char *const[]){ "bind=kmem", "state=unplugged", "private=1", "reclaim=1", "user_numa=1",
                                               "hotunplug=1", "state=online_movable", NULL });
        assert_tree_is("after");
        free(msg);
}

/* Online as system RAM already: nothing is written (the kernel would answer EBUSY), the error says
 * what to do. */
static void test_online_as_system_ram_is_busy(void **state) {
        Fake f = {};
        SysfsOps ops = OPS(&f);
        char *msg = NULL;
        DaxPrivateInfo i;
        char why[256];

        (void) state;
        fresh("before");
        assert_int_equal(fake_bind(&f, root_of(NULL), "dax0.0", "kmem"), 0);
        assert_int_equal(attr_write(root_of(NULL), "state", "online_movable"), 0);
        f = (Fake){};
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES, MEM_ZONE_MOVABLE, &msg),
                         -EBUSY);
        assert_int_equal(f.n, 0);
        assert_non_null(strstr(msg, "online as system RAM (state online_movable); it must be released first"));
        free(msg);

        /* and the fake itself answers like the ABI: the attributes are refused outside unplugged */
        assert_int_equal(fake_write(&f, root_of(NULL), "/sys/bus/dax/devices/dax0.0/private", "1"), -EBUSY);

        /* the choice: auto leaves it as system RAM, yes refuses with the way out */
        assert_int_equal(dax_private_read(&ops, root_of(NULL), "dax0.0", &i), 0);
        assert_int_equal(device_private_choice(TRISTATE_AUTO, true, &i, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PUBLIC);
        assert_int_equal(device_private_choice(TRISTATE_YES, true, &i, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_ERROR);
        assert_non_null(strstr(why, "'spmctl device release dax0.0'"));
}

/* demotion without reclaim: the kernel refuses it when the memory is added; everything written is
 * put back, the driver too. */
static void test_inconsistent_mask_refused_and_undone(void **state) {
        Fake f = {};
        SysfsOps ops = OPS(&f);
        char *msg = NULL;

        (void) state;
        fresh("before");
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", PRIVATE_USER_NUMA | PRIVATE_DEMOTION,
                                            MEM_ZONE_MOVABLE, &msg),
                         -EINVAL);
        assert_log(&f, (const char *const[]){ "bind=kmem", "private=1", "user_numa=1", "demotion=1",
                                               "state=online_movable", "user_numa=0", "demotion=0", "private=0",
                                               "bind=device_dax", NULL });
        assert_non_null(strstr(msg, "the kernel refused online_movable in its state attribute with services "
                                    "user_numa demotion: Invalid argument"));
        assert_non_null(strstr(msg, "put it back as it was"));
        assert_tree_is("before");
        free(msg);
}

static void test_missing_service_attribute(void **state) {
        Fake f = { .missing = "ltpin" };
        SysfsOps ops = OPS(&f);
        char *msg = NULL;

        (void) state;
        fresh("before");
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES | PRIVATE_LTPIN,
                                            MEM_ZONE_MOVABLE, &msg),
                         -EOPNOTSUPP);
        assert_non_null(strstr(msg, "no attribute for service(s) ltpin"));
        assert_tree_is("before");
        free(msg);
}

static void test_release(void **state) {
        Fake f = {};
        SysfsOps ops = OPS(&f);
        char *msg = NULL;

        (void) state;
        /* pages that cannot move: unplugged is refused, nothing else is touched */
        fresh("after");
        f.busy = true;
        assert_int_equal(dax_private_release(&ops, root_of(NULL), "dax0.0", &msg), -EBUSY);
        assert_log(&f, (const char *const[]){ "state=unplugged", NULL });
        assert_non_null(strstr(msg, "stays online (online_movable) and nothing was lost"));
        assert_tree_is("after");
        free(msg);

        f = (Fake){};
        msg = NULL;
        assert_int_equal(dax_private_release(&ops, root_of(NULL), "dax0.0", &msg), 0);
        assert_log(&f, (const char *const[]){ "state=unplugged", "reclaim=0", "user_numa=0", "hotunplug=0",
                                               "private=0", "bind=device_dax", NULL });
        assert_tree_is("before");
        free(msg);

        /* online again after a release: the same writes as the first time */
        f = (Fake){};
        msg = NULL;
        assert_int_equal(dax_private_online(&ops, root_of(NULL), "dax0.0", DEFAULT_SERVICES, MEM_ZONE_MOVABLE, &msg),
                         DEVICE_ONLINED);
        assert_int_equal(f.n, 6);
        assert_tree_is("after");
        free(msg);
}

static void test_choice(void **state) {
        DaxPrivateInfo devdax = { .has_private = true, .state = "unplugged", .driver = "device_dax" };
        DaxPrivateInfo old = { .driver = "device_dax" }; /* a kernel without the patches */
        DaxPrivateInfo priv = { .has_private = true, .private_on = true, .state = "online_movable", .driver = "kmem" };
        char why[256];

        (void) state;
        assert_int_equal(device_private_choice(TRISTATE_NO, true, &devdax, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PUBLIC);
        assert_int_equal(device_private_choice(TRISTATE_AUTO, true, &devdax, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PRIVATE);
        assert_int_equal(device_private_choice(TRISTATE_AUTO, false, &old, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PUBLIC);
        assert_int_equal(device_private_choice(TRISTATE_YES, false, &old, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_ERROR);
        assert_non_null(strstr(why, "Private=yes, but this kernel has no private memory nodes"));
        /* the attribute may show only once the device is bound to kmem: the node list is enough */
        assert_int_equal(device_private_choice(TRISTATE_YES, true, &old, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PRIVATE);
        assert_int_equal(device_private_choice(TRISTATE_AUTO, false, &priv, "dax0.0", why, sizeof why),
                         PRIVATE_CHOICE_PRIVATE);
}

/* DAMON skips private nodes: demotion onto one and cold-first evacuation off one go without it. */
static void test_damon_on_private_nodes(void **state) {
        NodeInfo nodes[] = { { .id = 0 }, { .id = 1, .private_node = true, .user_placeable = 1 }, { .id = 2 } };
        Topology t = { .nodes = nodes, .n_nodes = 3 };

        (void) state;
        assert_null(topology_damon_unusable(&t, 0));
        assert_null(topology_damon_unusable(&t, 2));
        assert_null(topology_damon_unusable(&t, 7));
        assert_non_null(strstr(topology_damon_unusable(&t, 1), "DAMON skips private nodes"));
}

static int setup(void **state) {
        (void) state;
        snprintf(tmp, sizeof tmp, "/tmp/test-dax-private-XXXXXX");
        return mkdtemp(tmp) ? 0 : -1;
}

static int teardown(void **state) {
        char cmd[128];
        (void) state;
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        return system(cmd) == 0 ? 0 : -1;
}

int main(int argc, char *argv[]) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_online_in_abi_order),
                cmocka_unit_test(test_online_without_user_numa_normal_zone),
                cmocka_unit_test(test_kernel_onlined_it_first),
                cmocka_unit_test(test_online_as_system_ram_is_busy),
                cmocka_unit_test(test_inconsistent_mask_refused_and_undone),
                cmocka_unit_test(test_missing_service_attribute),
                cmocka_unit_test(test_release),
                cmocka_unit_test(test_choice),
                cmocka_unit_test(test_damon_on_private_nodes),
        };

        if (argc < 2) {
                fprintf(stderr, "usage: %s FIXTURES/dax-private\n", argv[0]);
                return 2;
        }
        fixtures = argv[1];
        return cmocka_run_group_tests(tests, setup, teardown);
}
