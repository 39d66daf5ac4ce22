package io.sluice.loadtest.gatling;

import io.gatling.javaapi.core.Simulation;

/**
 * Redirects, the query mix and ingest at the same time, each at its own rate and held to its own p99, as one
 * gateway serves them in production.
 *
 * <pre>./mvnw -pl loadtest gatling:test -Dgatling.simulationClass=io.sluice.loadtest.gatling.MixedSimulation</pre>
 *
 * Settings: {@link SluiceLoad}, {@link RedirectLoad}, {@link QueryLoad} and {@link IngestLoad}.
 */
public final class MixedSimulation extends Simulation {

    private final SluiceLoad load = SluiceLoad.fromSystemProperties();
    private final RedirectLoad redirects = new RedirectLoad(load);
    private final QueryLoad queries = new QueryLoad(load);
    private final IngestLoad ingest = new IngestLoad(load);

    public MixedSimulation() {
        setUp(load.population(redirects), load.population(queries), load.population(ingest))
                .assertions(load.assertions(redirects, queries, ingest))
                .maxDuration(load.maxDuration());
    }

    @Override
    public void before() {
        load.checkServer();
        redirects.prepare();
        queries.prepare();
        ingest.prepare();
    }
}
