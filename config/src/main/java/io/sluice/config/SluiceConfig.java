package io.sluice.config;

import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

/**
 * The whole, validated configuration of one Sluice process.
 *
 * <p>Build it with {@link ConfigLoader}; {@link #defaults()} is every setting at its default.
 */
public record SluiceConfig(ServerConfig server, KafkaConfig kafka, PostgresConfig postgres,
                           TenantsConfig tenants, IngestConfig ingest, WriterConfig writer,
                           QueryConfig query, LinksConfig links, SpoolConfig spool, Set<Role> roles,
                           Path devDataDir, EdgeConfig edge, AuthConfig auth, ClusterConfig cluster,
                           AlertingConfig alerting) {

    public SluiceConfig {
        roles = Set.copyOf(roles);
    }

    public static SluiceConfig defaults() {
        return ConfigLoader.load(null, Map.of(), Map.of());
    }

    public SluiceConfig withServer(ServerConfig newServer) {
        return new SluiceConfig(newServer, kafka, postgres, tenants, ingest, writer, query, links, spool, roles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withKafka(KafkaConfig newKafka) {
        return new SluiceConfig(server, newKafka, postgres, tenants, ingest, writer, query, links, spool, roles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withPostgres(PostgresConfig newPostgres) {
        return new SluiceConfig(server, kafka, newPostgres, tenants, ingest, writer, query, links, spool, roles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withWriter(WriterConfig newWriter) {
        return new SluiceConfig(server, kafka, postgres, tenants, ingest, newWriter, query, links, spool, roles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withSpool(SpoolConfig newSpool) {
        return new SluiceConfig(server, kafka, postgres, tenants, ingest, writer, query, links, newSpool, roles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withCluster(ClusterConfig newCluster) {
        return new SluiceConfig(server, kafka, postgres, tenants, ingest, writer, query, links, spool, roles,
                devDataDir, edge, auth, newCluster, alerting);
    }

    public SluiceConfig withRoles(Set<Role> newRoles) {
        return new SluiceConfig(server, kafka, postgres, tenants, ingest, writer, query, links, spool, newRoles,
                devDataDir, edge, auth, cluster, alerting);
    }

    public SluiceConfig withAlerting(AlertingConfig newAlerting) {
        return new SluiceConfig(server, kafka, postgres, tenants, ingest, writer, query, links, spool, roles,
                devDataDir, edge, auth, cluster, newAlerting);
    }
}
