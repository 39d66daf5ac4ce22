package io.sluice.gateway.alerting;

import io.micrometer.core.instrument.MeterRegistry;
import io.netty.handler.codec.http.HttpMethod;
import io.sluice.config.AlertingConfig;
import io.sluice.gateway.auth.ApiGuard;
import io.sluice.gateway.http.HttpRouter;
import io.sluice.storage.alerting.notify.NotifyStore;
import io.sluice.storage.postgres.PostgresCalls;

import java.time.Clock;

/**
 * Registers the alert notification APIs — receivers ({@link ReceiversApi}), routes ({@link RoutesApi}) and
 * silences ({@link SilencesApi}) — on a router, each behind the {@link ApiGuard}.
 */
public final class NotificationsApi {

    private NotificationsApi() {
    }

    public static HttpRouter.Builder register(HttpRouter.Builder router, ApiGuard guard, PostgresCalls calls,
                                              AlertingConfig config, Clock clock, MeterRegistry registry) {
        NotifyStore store = new NotifyStore(calls);
        RequestBodies bodies = new RequestBodies(registry);
        ReceiversApi receivers = new ReceiversApi(store, bodies, config.limits());
        RoutesApi routes = new RoutesApi(store, config, bodies);
        SilencesApi silences = new SilencesApi(store, bodies, clock, config.limits().maxSilenceTextLength());
        String receiverPath = ReceiversApi.PREFIX + "{name}";
        String silencePath = SilencesApi.PREFIX + "{id}";
        return router
                .route(HttpMethod.POST, "/api/v1/alerts/receivers", guard.guard(receivers::create))
                .route(HttpMethod.GET, "/api/v1/alerts/receivers", guard.guard(receivers::list))
                .prefix(HttpMethod.GET, ReceiversApi.PREFIX, receiverPath, guard.guard(receivers::one))
                .prefix(HttpMethod.PUT, ReceiversApi.PREFIX, receiverPath, guard.guard(receivers::one))
                .prefix(HttpMethod.DELETE, ReceiversApi.PREFIX, receiverPath, guard.guard(receivers::one))
                .route(HttpMethod.GET, "/api/v1/alerts/routes", guard.guard(routes::get))
                .route(HttpMethod.PUT, "/api/v1/alerts/routes", guard.guard(routes::put))
                .route(HttpMethod.POST, "/api/v1/alerts/silences", guard.guard(silences::create))
                .route(HttpMethod.GET, "/api/v1/alerts/silences", guard.guard(silences::list))
                .prefix(HttpMethod.GET, SilencesApi.PREFIX, silencePath, guard.guard(silences::one))
                .prefix(HttpMethod.DELETE, SilencesApi.PREFIX, silencePath, guard.guard(silences::one));
    }
}
