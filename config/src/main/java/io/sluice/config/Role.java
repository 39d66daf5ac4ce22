package io.sluice.config;

import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/** The parts of Sluice one process can run. */
public enum Role {
    /** The Netty edge: ingest, redirects, queries, health and metrics. */
    GATEWAY,
    /** The Kafka to PostgreSQL storage writer. */
    WRITER,
    /** Evaluates alert rules on their intervals and delivers notifications. */
    ALERTER;

    static Set<Role> parseSet(String raw) {
        Set<Role> roles = EnumSet.noneOf(Role.class);
        for (String part : Values.list(raw)) {
            roles.add(Role.valueOf(part.toUpperCase(Locale.ROOT)));
        }
        return roles;
    }
}
