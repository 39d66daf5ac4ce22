package io.sluice.storage.query;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Hooks;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link QueryCache#joined}: how each caller sees a load that identical concurrent queries share. */
class JoinedLoadTest {

    private final List<Throwable> dropped = new CopyOnWriteArrayList<>();

    @AfterEach
    void resetHooks() {
        Hooks.resetOnErrorDropped();
    }

    @Test
    void aCallerThatGoesAwayCancelsNothingForTheOthersAndDropsNoError() {
        Hooks.onErrorDropped(dropped::add);
        CompletableFuture<String> load = new CompletableFuture<>();
        AtomicReference<Throwable> gone = new AtomicReference<>();
        Disposable leaving = QueryCache.joined(load).subscribe(v -> { }, gone::set);
        CompletableFuture<String> staying = QueryCache.joined(load).toFuture();

        leaving.dispose();
        assertThat(load).as("the shared load goes on").isNotDone();
        load.completeExceptionally(QueryException.timeout("statement timeout"));

        assertThatThrownBy(() -> QueryCache.joined(load).block(Duration.ofSeconds(5)))
                .isInstanceOf(QueryException.class);
        assertThat(staying).isCompletedExceptionally();
        assertThat(gone.get()).as("the caller that left hears nothing").isNull();
        assertThat(dropped).as("no error reported as dropped").isEmpty();
    }

    @Test
    void everyCallerGetsTheAnswer() {
        CompletableFuture<String> load = new CompletableFuture<>();
        CompletableFuture<String> one = QueryCache.joined(load).toFuture();
        CompletableFuture<String> two = QueryCache.joined(load).toFuture();
        load.complete("answer");
        assertThat(one.join()).isEqualTo("answer");
        assertThat(two.join()).isEqualTo("answer");
    }
}
