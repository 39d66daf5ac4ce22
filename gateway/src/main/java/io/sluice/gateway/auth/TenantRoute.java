package io.sluice.gateway.auth;

import io.sluice.gateway.http.HttpExchange;
import io.sluice.storage.auth.Principal;

/** A route that serves an authenticated tenant, called on the connection's event loop. */
@FunctionalInterface
public interface TenantRoute {

    void serve(HttpExchange exchange, Principal principal);
}
