/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * spmctl-local: spmctl's commands that read or change the machine itself (check-config, nodes,
 * devices, device release), with the libraries they need (libcxl, libdaxctl, libnuma, the
 * policy's parser). spmctl runs it for them, with its own arguments, so that spmctl itself links
 * no BPF or device library.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include "check-config.h"
#include "conf.h"
#include "devices.h"
#include "log.h"
#include "spmctl-options.h"
#include "spmctl-topology.h"
#include "spmd/bus.h"
#include "strv.h"
#include "topology.h"

static int verb_check_config(int argc, char *argv[]) {
        if (argc > 2) {
                fprintf(stderr, "check-config takes at most one PATH.\n");
                return 2;
        }
        if (argc == 2)
                return check_config_and_report(argv[1], true, arg_dump);
        return check_config_and_report(arg_config, arg_config_given, arg_dump);
}

/* The topology and, if the policy can be read, which devices it claims. */
static int load_machine(Topology **ret_t, Config **ret_c, DevicePlan *ret_plan) {
        _cleanup_(topology_freep) Topology *t = NULL;
        ConfDiags d = {};
        Config *c = NULL;
        int r;

        r = topology_discover(&t);
        if (r < 0) {
                log_error_errno(r, "Failed to read the memory topology: %m");
                return r;
        }
        *ret_plan = (DevicePlan){};
        r = config_load(arg_config, arg_config_given, &c, &d);
        if (r < 0) {
                conf_diags_print(&d, stderr);
                fprintf(stderr, "warning: cannot read the policy in %s; node kinds and claims are not shown\n",
                        arg_config);
        } else if (device_plan_build(c, t, ret_plan) < 0) {
                c = config_free(c);
        }
        conf_diags_clear(&d);
        *ret_c = c;
        *ret_t = TAKE_PTR(t);
        return 0;
}

/* The devices the running spmd claims or holds (ListDevices), unless -c names a policy file: 1 with
 * the reply, 0 when spmd is not on the bus (or -c was given), negative on a bad reply. */
static int spmd_claims(sd_bus_message **ret) {
        _cleanup_(sd_bus_flush_close_unrefp) sd_bus *bus = NULL;
        sd_bus_error e = SD_BUS_ERROR_NULL;
        int r;

        if (arg_config_given || sd_bus_open_system(&bus) < 0)
                return 0;
        r = sd_bus_call_method(bus, SPMD_BUS_NAME, SPMD_BUS_PATH, SPMD_BUS_MANAGER_INTERFACE, "ListDevices", &e, ret,
                               "");
        sd_bus_error_free(&e);
        return r < 0 ? 0 : 1;
}

/* One "(ssstisbs)" of ListDevices: dax, region, memdev, serial, node, mode, held, claimed_by. */
static int read_claim(sd_bus_message *m, const char **dax, int *held, const char **by) {
        const char *region, *memdev, *mode;
        uint64_t serial;
        int32_t node;

        return sd_bus_message_read(m, "(ssstisbs)", dax, &region, &memdev, &serial, &node, &mode, held, by);
}

static int print_spmd_claims(sd_bus_message *reply, json_object *o) {
        json_object *claims = NULL, *list = NULL;
        const char *dax, *by;
        unsigned n = 0;
        int held, r;

        if (o) {
                claims = json_object_new_object();
                list = json_object_new_array();
                json_add(claims, "source", json_object_new_string("spmd"));
                json_add(claims, "devices", list);
                json_add(o, "claims", claims);
        } else
                printf("claimed by the running spmd (%s):\n", SPMD_BUS_NAME);
        r = sd_bus_message_enter_container(reply, 'a', "(ssstisbs)");
        while (r >= 0 && (r = read_claim(reply, &dax, &held, &by)) > 0) {
                if (!by[0] && !held)
                        continue;
                n++;
                if (list) {
                        json_object *d = json_object_new_object();
                        json_add(d, "dax", json_object_new_string(dax));
                        json_add(d, "claimed_by", by[0] ? json_object_new_string(by) : NULL);
                        json_add(d, "held", json_object_new_boolean(held));
                        json_object_array_add(list, d);
                } else
                        printf("  %-8s %s%s%s\n", dax, by[0] ? "[Device] " : "no longer claimed", by,
                               held ? ", online as an SPM node" : ", not online as an SPM node");
        }
        if (r < 0)
                return r;
        if (!o && n == 0)
                printf("  nothing\n");
        return 0;
}

static void json_file_claims(json_object *o, const Config *c, const DevicePlan *plan) {
        json_object *claims = json_object_new_object(), *list = json_object_new_array(),
                    *problems = json_object_new_array();

        json_add(claims, "source", json_object_new_string(arg_config));
        for (size_t i = 0; i < plan->n_claims; i++) {
                json_object *d = json_object_new_object();
                const DeviceConf *dc = plan->claims[i].conf;
                json_add(d, "dax", json_object_new_string(plan->claims[i].dax));
                json_add(d, "claimed_by", json_object_new_string(dc->name ? dc->name : dc->match));
                json_object_array_add(list, d);
        }
        for (char **p = plan->problems; p && *p; p++)
                json_object_array_add(problems, json_object_new_string(*p));
        json_add(claims, "devices", list);
        json_add(claims, "problems", problems);
        json_add(o, "claims", c ? claims : NULL);
        if (!c)
                json_object_put(claims);
}

static int verb_topology(bool devices) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(topology_freep) Topology *t = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        DevicePlan plan = {};
        NodeMask spm = {};
        bool from_spmd;
        int r = 0;

        if (load_machine(&t, &c, &plan) < 0)
                return 1;
        device_plan_spm_nodes(&plan, t, &spm);
        /* devices: what the running spmd claims, when one runs and no policy file was named */
        from_spmd = devices && spmd_claims(&reply) > 0;
        if (spmctl_json) {
                json_object *o = json_topology(t, c ? &spm : NULL);
                if (o && devices && from_spmd)
                        r = print_spmd_claims(reply, o);
                else if (o && devices)
                        json_file_claims(o, c, &plan);
                if (r >= 0 && json_print(o, stdout) < 0)
                        r = -ENOMEM;
        } else if (devices) {
                topology_print_devices(t, stdout);
                if (from_spmd)
                        r = print_spmd_claims(reply, NULL);
                else if (c) {
                        printf("claimed by %s%s:\n", arg_config, arg_config_given ? "" : " (no spmd answers on the bus)");
                        if (plan.n_claims == 0 && strv_isempty(plan.problems))
                                printf("  nothing ([Device] sections: %zu)\n", c->n_devices);
                        for (size_t i = 0; i < plan.n_claims; i++)
                                printf("  %-8s [Device]%s%s at %s:%u Match=%s\n", plan.claims[i].dax,
                                       plan.claims[i].conf->name ? " Name=" : "", strempty(plan.claims[i].conf->name),
                                       plan.claims[i].conf->source.file, plan.claims[i].conf->source.line,
                                       plan.claims[i].conf->match);
                        for (char **p = plan.problems; p && *p; p++)
                                printf("  problem: %s\n", *p);
                }
        } else
                topology_print_nodes(t, c ? &spm : NULL, stdout);
        device_plan_clear(&plan);
        if (r == -ENOMEM)
                return spmctl_oom();
        if (r < 0) {
                fprintf(stderr, "spmd's ListDevices reply is not what was expected: %s\n", strerror(-r));
                return 1;
        }
        return 0;
}

static int verb_device(int argc, char *argv[]) {
        _cleanup_(topology_freep) Topology *t = NULL;
        _cleanup_(config_freep) Config *c = NULL;
        _cleanup_free_ char *msg = NULL;
        DevicePlan plan = {};
        const char *dax;
        int r;

        if (argc != 3 || strcmp(argv[1], "release") != 0) {
                fprintf(stderr, "usage: spmctl device release DEV  (DEV: daxX.Y or a [Device] Name=)\n");
                return 2;
        }
        if (geteuid() != 0) {
                fprintf(stderr, "device release needs root: it offlines the device's memory and rebinds its "
                                "driver (uid %u)\n",
                        (unsigned) geteuid());
                return 4;
        }
        if (load_machine(&t, &c, &plan) < 0)
                return 1;
        const DeviceClaim *claim = device_plan_find(&plan, argv[2]);
        dax = claim ? claim->dax : argv[2];
        if (!topology_dax(t, dax)) {
                fprintf(stderr, "%s: no such dax device and no [Device] with that Name=; see 'spmctl devices'\n",
                        argv[2]);
                device_plan_clear(&plan);
                return 1;
        }
        r = device_release(dax, &msg);
        device_plan_clear(&plan);
        if (r < 0) {
                fprintf(stderr, "%s\n", msg ? msg : strerror(-r));
                return 1;
        }
        printf("%s\n", msg);
        if (claim)
                printf("note: %s still claims it; spmd onlines it again on its next reload or restart\n",
                       arg_config);
        return 0;
}

static void help(void) {
        printf("%s runs spmctl's local commands (check-config, nodes, devices, device release)\n"
               "for spmctl; see 'spmctl --help'.\n",
               program_invocation_short_name);
}

int main(int argc, char *argv[]) {
        int i;

        i = spmctl_parse_options(argc, argv, help);
        if (i < 0)
                return i == -1 ? 0 : 2;
        argc -= i;
        argv += i;
        if (strcmp(argv[0], "check-config") == 0)
                return verb_check_config(argc, argv);
        if (strcmp(argv[0], "nodes") == 0 || strcmp(argv[0], "devices") == 0) {
                if (argc > 1) {
                        fprintf(stderr, "%s takes no arguments.\n", argv[0]);
                        return 2;
                }
                return verb_topology(strcmp(argv[0], "devices") == 0);
        }
        if (strcmp(argv[0], "device") == 0)
                return verb_device(argc, argv);
        fprintf(stderr, "Unknown local command '%s'. See 'spmctl --help'.\n", argv[0]);
        return 2;
}
