package io.sluice.loadtest.gatling;

import io.gatling.javaapi.core.Simulation;

/**
 * Short-link redirects over a Zipf-distributed set of links ({@link RedirectLoad}).
 *
 * <pre>./mvnw -pl loadtest gatling:test -Dgatling.simulationClass=io.sluice.loadtest.gatling.RedirectSimulation</pre>
 *
 * Settings: {@link SluiceLoad} (target, duration, failed requests) and {@link RedirectLoad} (rate, links, skew,
 * p99).
 */
public final class RedirectSimulation extends Simulation {

    private final SluiceLoad load = SluiceLoad.fromSystemProperties();
    private final RedirectLoad redirects = new RedirectLoad(load);

    public RedirectSimulation() {
        setUp(load.population(redirects))
                .assertions(load.assertions(redirects))
                .maxDuration(load.maxDuration());
    }

    @Override
    public void before() {
        load.checkServer();
        redirects.prepare();
    }
}
