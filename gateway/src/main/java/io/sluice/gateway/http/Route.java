package io.sluice.gateway.http;

/** Serves the requests the router sends to it; answers through the exchange, now or later. */
@FunctionalInterface
public interface Route {

    void serve(HttpExchange exchange);
}
