package io.sluice.storage.postgres;

import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

class GracefulStopTest {

    private final GracefulStop stop = new GracefulStop();

    @Test
    void stopWaitsForTheWorkUnderWayWithoutCancellingIt() {
        Sinks.One<String> result = Sinks.one();
        AtomicBoolean cancelled = new AtomicBoolean();
        AtomicReference<String> seen = new AtomicReference<>();
        stop.track(result.asMono().doOnCancel(() -> cancelled.set(true))).subscribe(seen::set);

        CompletableFuture<Boolean> stopping = CompletableFuture.supplyAsync(() -> stop.stop(Duration.ofSeconds(30)));
        await().atMost(Duration.ofSeconds(10)).until(stop::stopping);
        assertThat(stopping).as("the work under way has not finished").isNotDone();
        result.tryEmitValue("done");

        assertThat(stopping.orTimeout(10, TimeUnit.SECONDS).join()).isTrue();
        assertThat(seen.get()).isEqualTo("done");
        assertThat(cancelled).isFalse();
    }

    @Test
    void workStartedAfterStopIsNeverSubscribed() {
        assertThat(stop.stop(Duration.ZERO)).as("nothing under way").isTrue();
        AtomicBoolean subscribed = new AtomicBoolean();
        String value = stop.track(Mono.fromSupplier(() -> {
            subscribed.set(true);
            return "late";
        })).block(Duration.ofSeconds(10));
        assertThat(value).isNull();
        assertThat(subscribed).isFalse();
    }

    @Test
    void workStillRunningAfterTheGraceIsLeftToTheCaller() {
        Sinks.One<String> never = Sinks.one();
        AtomicBoolean cancelled = new AtomicBoolean();
        var running = stop.track(never.asMono().doOnCancel(() -> cancelled.set(true))).subscribe();

        assertThat(stop.stop(Duration.ofMillis(50))).isFalse();
        assertThat(cancelled).as("stop() cancels nothing itself").isFalse();
        running.dispose();
        assertThat(cancelled).isTrue();
        assertThat(stop.stop(Duration.ZERO)).as("cancelled work no longer counts as under way").isTrue();
    }

    @Test
    void failedWorkCountsAsFinished() {
        stop.track(Mono.error(new IllegalStateException("refused"))).subscribe(v -> { }, e -> { });
        assertThat(stop.stop(Duration.ZERO)).isTrue();
    }
}
