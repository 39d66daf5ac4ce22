package io.sluice.storage.writer;

import org.junit.jupiter.api.Test;
import reactor.core.Disposable;
import reactor.core.publisher.Flux;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The writer's batching of one partition ({@link StorageWriter#inBatches}), on a plain source instead of Kafka. */
class InBatchesTest {

    private static final Duration WAIT = Duration.ofMillis(20);

    /** Batches applied, and a gate that holds each batch's apply open until released. */
    private static final class Applier {
        final List<List<Integer>> applied = new CopyOnWriteArrayList<>();
        final List<Sinks.Empty<Void>> gates = new CopyOnWriteArrayList<>();

        Mono<Void> apply(List<Integer> batch) {
            applied.add(batch);
            Sinks.Empty<Void> gate = Sinks.empty();
            gates.add(gate);
            return gate.asMono();
        }

        void release(int batch) {
            gates.get(batch).tryEmitEmpty();
        }
    }

    @Test
    void aPartitionTheWriterIsBehindOnHoldsTwoBatchesAndTheRestStaysUpstream() {
        AtomicLong requested = new AtomicLong();
        AtomicLong emitted = new AtomicLong();
        Applier applier = new Applier();
        Flux<Integer> backlog = Flux.range(0, 10_000)
                .doOnRequest(requested::addAndGet)
                .doOnNext(i -> emitted.incrementAndGet());
        Disposable run = StorageWriter.inBatches(backlog, 100, WAIT, applier::apply).subscribe();
        try {
            await().until(() -> applier.applied.size() == 1);
            assertThat(applier.applied.get(0)).as("a full batch at once").isEqualTo(IntStream.range(0, 100).boxed().toList());
            // the first batch is being applied: the next one may fill, nothing beyond it is asked for
            await().until(() -> emitted.get() == 200);
            assertThat(requested.get()).as("asked of upstream while the first batch is applied").isLessThanOrEqualTo(200);
            assertThat(applier.applied).as("the next batch waits for the first to finish").hasSize(1);

            applier.release(0);
            await().until(() -> applier.applied.size() == 2);
            assertThat(applier.applied.get(1)).isEqualTo(IntStream.range(100, 200).boxed().toList());
            await().until(() -> emitted.get() == 300);
            assertThat(requested.get()).isLessThanOrEqualTo(300);
            assertThat(applier.applied).hasSize(2);
        } finally {
            run.dispose();
        }
    }

    @Test
    void aBatchHoldsEverythingThatArrivedWhileTheOneBeforeWasApplied() {
        Sinks.Many<Integer> records = Sinks.many().unicast().onBackpressureBuffer();
        Applier applier = new Applier();
        Disposable run = StorageWriter.inBatches(records.asFlux(), 100, WAIT, applier::apply).subscribe();
        try {
            records.tryEmitNext(0);
            await().until(() -> applier.applied.size() == 1);
            assertThat(applier.applied.get(0)).as("a lone record goes after the wait").containsExactly(0);
            for (int i = 1; i <= 30; i++) {
                records.tryEmitNext(i);
            }
            applier.release(0);
            await().until(() -> applier.applied.size() == 2);
            assertThat(applier.applied.get(1)).as("the 30 that came meanwhile, as one batch")
                    .isEqualTo(IntStream.rangeClosed(1, 30).boxed().toList());
            for (int i = 31; i < 31 + 250; i++) {
                records.tryEmitNext(i);
            }
            applier.release(1);
            await().until(() -> applier.applied.size() == 3);
            assertThat(applier.applied.get(2)).as("at most a batch's records")
                    .isEqualTo(IntStream.range(31, 131).boxed().toList());
            applier.release(2);
            await().until(() -> applier.applied.size() == 4);
            applier.release(3);
            await().until(() -> applier.applied.size() == 5);
            assertThat(applier.applied.get(3)).isEqualTo(IntStream.range(131, 231).boxed().toList());
            assertThat(applier.applied.get(4)).isEqualTo(IntStream.range(231, 281).boxed().toList());
            applier.release(4);
            // nothing more arrives: no empty batch is applied after the wait
            records.tryEmitNext(281);
            await().until(() -> applier.applied.size() == 6);
            assertThat(applier.applied.get(5)).containsExactly(281);
        } finally {
            run.dispose();
        }
    }

    /**
     * Within a budget in bytes, records weighing 10 each and 250 allowed: whatever the record count allows, a
     * partition holds at most 250 bytes of records taken and not yet applied (one more record waits upstream), and a
     * batch applied gives its bytes back.
     */
    @Test
    void aPartitionHoldsAtMostItsBudgetInBytesWhateverItsBatchesCount() {
        AtomicLong emitted = new AtomicLong();
        Applier applier = new Applier();
        Flux<Integer> backlog = Flux.range(0, 10_000).doOnNext(i -> emitted.incrementAndGet());
        Disposable run = StorageWriter.inBatches(backlog, i -> 10, 250, 100, WAIT, applier::apply).subscribe();
        try {
            await().until(() -> applier.applied.size() == 1);
            assertThat(applier.applied.get(0)).as("25 records of 10 bytes: the budget, though 100 would be allowed")
                    .isEqualTo(IntStream.range(0, 25).boxed().toList());
            await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(5))
                    .until(() -> emitted.get() <= 26);
            assertThat(applier.applied).as("nothing more fits while the first batch is applied").hasSize(1);

            applier.release(0);
            await().until(() -> applier.applied.size() == 2);
            assertThat(applier.applied.get(1)).isEqualTo(IntStream.range(25, 50).boxed().toList());
        } finally {
            run.dispose();
        }
    }

    @Test
    void aRecordHeavierThanTheBudgetGoesAloneOnceNothingIsHeld() {
        Applier applier = new Applier();
        Sinks.Many<Integer> records = Sinks.many().unicast().onBackpressureBuffer();
        // record 2 weighs 1,000 against a budget of 100
        Disposable run = StorageWriter.inBatches(records.asFlux(), i -> i == 2 ? 1_000 : 10, 100, 100, WAIT,
                applier::apply).subscribe();
        try {
            records.tryEmitNext(1);
            records.tryEmitNext(2);
            records.tryEmitNext(3);
            await().until(() -> applier.applied.size() == 1);
            assertThat(applier.applied.get(0)).containsExactly(1);
            applier.release(0);
            await().until(() -> applier.applied.size() == 2);
            assertThat(applier.applied.get(1)).as("alone: nothing else was held").containsExactly(2);
            applier.release(1);
            await().until(() -> applier.applied.size() == 3);
            assertThat(applier.applied.get(2)).containsExactly(3);
        } finally {
            run.dispose();
        }
    }

    @Test
    void theGateLetsTheWaitingRecordThroughWhenBytesComeBack() {
        StorageWriter.ByteGate gate = new StorageWriter.ByteGate(100);
        assertThat(gate.take(60).toFuture()).isDone();
        java.util.concurrent.CompletableFuture<Void> waiting = gate.take(50).toFuture();
        assertThat(waiting).as("60 + 50 is over 100").isNotDone();
        gate.give(60);
        assertThat(waiting).isDone();
        assertThat(gate.held()).isEqualTo(50);
        java.util.concurrent.CompletableFuture<Void> heavy = gate.take(1_000).toFuture();
        assertThat(heavy).as("heavier than the budget, while 50 are held").isNotDone();
        gate.give(50);
        assertThat(heavy).as("alone").isDone();
        assertThat(gate.held()).isEqualTo(1_000);
    }
}
