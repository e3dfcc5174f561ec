/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "macro.h"
#include "spmctl-json.h"

const char *json_text(json_object *o) {
        return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

int json_print(json_object *o, FILE *f) {
        if (!o)
                return -ENOMEM;
        fputs(json_text(o), f);
        fputc('\n', f);
        json_object_put(o);
        return 0;
}

json_object *json_u64_or_null(uint64_t v) {
        return v == UINT64_MAX ? NULL : json_object_new_uint64(v);
}

void json_add(json_object *o, const char *key, json_object *v) {
        if (o)
                (void) json_object_object_add(o, key, v);
        else
                json_object_put(v);
}

int json_from_bus(sd_bus_message *m, json_object **ret) {
        const char *contents;
        char type;
        int r = sd_bus_message_peek_type(m, &type, &contents);

        if (r <= 0)
                return r < 0 ? r : -EBADMSG;
        switch (type) {
        case 's': case 'o': case 'g': {
                const char *s;
                if ((r = sd_bus_message_read_basic(m, type, &s)) < 0)
                        return r;
                *ret = json_object_new_string(s);
                return *ret ? 0 : -ENOMEM;
        }
        case 'b': {
                int b;
                if ((r = sd_bus_message_read_basic(m, type, &b)) < 0)
                        return r;
                *ret = json_object_new_boolean(b);
                return *ret ? 0 : -ENOMEM;
        }
        case 'y': case 'n': case 'q': case 'i': case 'u': case 'x': case 'h': {
                union { uint8_t y; int16_t n; uint16_t q; int32_t i; uint32_t u; int64_t x; } v;
                int64_t x;
                if ((r = sd_bus_message_read_basic(m, type, &v)) < 0)
                        return r;
                x = type == 'y' ? v.y : type == 'n' ? v.n : type == 'q' ? v.q : type == 'u' ? v.u :
                    type == 'x' ? v.x : v.i;
                *ret = json_object_new_int64(x);
                return *ret ? 0 : -ENOMEM;
        }
        case 't': {
                uint64_t t;
                if ((r = sd_bus_message_read_basic(m, type, &t)) < 0)
                        return r;
                *ret = json_object_new_uint64(t);
                return *ret ? 0 : -ENOMEM;
        }
        case 'd': {
                double d;
                if ((r = sd_bus_message_read_basic(m, type, &d)) < 0)
                        return r;
                *ret = json_object_new_double(d);
                return *ret ? 0 : -ENOMEM;
        }
        case 'v':
                if ((r = sd_bus_message_enter_container(m, 'v', contents)) < 0 || (r = json_from_bus(m, ret)) < 0)
                        return r;
                return sd_bus_message_exit_container(m);
        case 'r':
        case 'a': {
                bool object = type == 'a' && contents[0] == '{' && strchr("sog", contents[1]);
                _cleanup_(json_object_putp) json_object *o = object ? json_object_new_object() : json_object_new_array();

                if (!o)
                        return -ENOMEM;
                if ((r = sd_bus_message_enter_container(m, type, contents)) < 0)
                        return r;
                while ((r = sd_bus_message_at_end(m, false)) == 0) {
                        json_object *v = NULL;

                        if (object) {
                                const char *k, *ec;
                                char et;
                                if ((r = sd_bus_message_peek_type(m, &et, &ec)) < 0 ||
                                    (r = sd_bus_message_enter_container(m, 'e', ec)) < 0 ||
                                    (r = sd_bus_message_read_basic(m, ec[0], &k)) < 0 || (r = json_from_bus(m, &v)) < 0)
                                        return r;
                                json_add(o, k, v);
                                if ((r = sd_bus_message_exit_container(m)) < 0)
                                        return r;
                        } else {
                                if ((r = json_from_bus(m, &v)) < 0)
                                        return r;
                                json_object_array_add(o, v);
                        }
                }
                if (r < 0 || (r = sd_bus_message_exit_container(m)) < 0)
                        return r;
                *ret = TAKE_PTR(o);
                return 0;
        }
        default:
                return -EOPNOTSUPP;
        }
}
