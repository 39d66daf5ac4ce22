package io.sluice.gateway.links;

import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.publisher.Sinks;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LinkIdsTest {

    private final AtomicLong sequence = new AtomicLong();
    private final AtomicInteger reservations = new AtomicInteger();

    private Mono<Long> nextval() {
        reservations.incrementAndGet();
        return Mono.fromSupplier(() -> sequence.addAndGet(LinkIds.BLOCK));
    }

    @Test
    void aReservationAnsweredAtOnceStillLeavesTheNextBlockReservable() {
        // the database may answer before the caller has finished asking; a stale reservation used to
        // wedge every later creation once the first block ran out
        LinkIds ids = new LinkIds(this::nextval);
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < LinkIds.BLOCK * 5 + 3; i++) {
            Long id = ids.next().block(Duration.ofSeconds(5));
            assertThat(seen.add(id)).as("id %d handed out twice", id).isTrue();
        }
        assertThat(reservations).hasValue(6);
        assertThat(seen).contains(64L, 64L * 6 + 2);
    }

    @Test
    void concurrentCallersShareOneReservationAndGetDistinctIds() {
        Sinks.One<Long> answer = Sinks.one();
        AtomicInteger calls = new AtomicInteger();
        LinkIds ids = new LinkIds(() -> {
            calls.incrementAndGet();
            return calls.get() == 1 ? answer.asMono() : nextval();
        });
        List<Mono<Long>> waiting = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            waiting.add(ids.next().subscribeOn(Schedulers.parallel()).cache());
            waiting.get(i).subscribe();
        }
        answer.tryEmitValue(1_000L);
        List<Long> got = new ArrayList<>();
        for (Mono<Long> m : waiting) {
            got.add(m.block(Duration.ofSeconds(5)));
        }
        assertThat(new HashSet<>(got)).hasSize(100);
        assertThat(calls).hasValue(2); // 64 from the first block, then one more block for the other 36
    }

    @Test
    void aFailedReservationFailsItsWaitersAndTheNextCallTriesAgain() {
        AtomicInteger calls = new AtomicInteger();
        LinkIds ids = new LinkIds(() -> calls.incrementAndGet() == 1
                ? Mono.error(new IllegalStateException("database down")) : nextval());
        assertThatThrownBy(() -> ids.next().block(Duration.ofSeconds(5))).hasMessageContaining("database down");
        assertThat(ids.next().block(Duration.ofSeconds(5))).isEqualTo(64L);
    }
}
