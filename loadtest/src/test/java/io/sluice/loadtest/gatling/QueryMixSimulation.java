package io.sluice.loadtest.gatling;

import io.gatling.javaapi.core.Simulation;

/**
 * The query mix: recent ranges from raw samples, long ranges from rollups ({@link QueryLoad}).
 *
 * <pre>./mvnw -pl loadtest gatling:test -Dgatling.simulationClass=io.sluice.loadtest.gatling.QueryMixSimulation</pre>
 *
 * Settings: {@link SluiceLoad} (target, duration, failed requests) and {@link QueryLoad} (rate, series, p99).
 */
public final class QueryMixSimulation extends Simulation {

    private final SluiceLoad load = SluiceLoad.fromSystemProperties();
    private final QueryLoad queries = new QueryLoad(load);

    public QueryMixSimulation() {
        setUp(load.population(queries))
                .assertions(load.assertions(queries))
                .maxDuration(load.maxDuration());
    }

    @Override
    public void before() {
        load.checkServer();
        queries.prepare();
    }
}
