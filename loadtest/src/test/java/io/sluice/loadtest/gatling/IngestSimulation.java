package io.sluice.loadtest.gatling;

import io.gatling.javaapi.core.Simulation;

/**
 * HTTP ingest of metrics and events ({@link IngestLoad}).
 *
 * <pre>./mvnw -pl loadtest gatling:test -Dgatling.simulationClass=io.sluice.loadtest.gatling.IngestSimulation</pre>
 *
 * Settings: {@link SluiceLoad} (target, duration, failed requests) and {@link IngestLoad} (rate, batch, p99).
 */
public final class IngestSimulation extends Simulation {

    private final SluiceLoad load = SluiceLoad.fromSystemProperties();
    private final IngestLoad ingest = new IngestLoad(load);

    public IngestSimulation() {
        setUp(load.population(ingest))
                .assertions(load.assertions(ingest))
                .maxDuration(load.maxDuration());
    }

    @Override
    public void before() {
        load.checkServer();
        ingest.prepare();
    }
}
