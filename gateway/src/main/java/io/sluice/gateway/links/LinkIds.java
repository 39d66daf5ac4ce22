package io.sluice.gateway.links;

import reactor.core.publisher.Mono;

import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;

/**
 * Hands out link ids from blocks of {@value #BLOCK} reserved with one {@code nextval}: most creations need
 * no database round trip for their id, and ids stay unique across nodes. While a block is being reserved,
 * every caller waits on that one reservation.
 */
final class LinkIds {

    static final int BLOCK = 64;

    private final Supplier<Mono<Long>> reserveBlock;
    private final Object lock = new Object();
    private long next;
    private long end;
    private CompletableFuture<Long> reserving;

    /** @param reserveBlock the first id of a fresh block of {@value #BLOCK} (e.g. a sequence's nextval) */
    LinkIds(Supplier<Mono<Long>> reserveBlock) {
        this.reserveBlock = reserveBlock;
    }

    Mono<Long> next() {
        return Mono.defer(() -> {
            CompletableFuture<Long> block;
            boolean reserve = false;
            synchronized (lock) {
                if (next < end) {
                    return Mono.just(next++);
                }
                if (reserving == null) {
                    reserving = new CompletableFuture<>();
                    reserve = true;
                }
                block = reserving;
            }
            if (reserve) {
                // Subscribed outside the lock, and the reservation is published before it starts: the
                // answer may come on another thread, or on this one before subscribe() returns.
                reserveBlock.get().subscribe(start -> installed(block, start, null), error -> installed(block, null, error),
                        () -> installed(block, null, new IllegalStateException("no link id block")));
            }
            return Mono.fromFuture(block, true).then(Mono.defer(this::next));
        });
    }

    private void installed(CompletableFuture<Long> block, Long start, Throwable error) {
        synchronized (lock) {
            if (block.isDone()) {
                return; // the completion signal after the value
            }
            if (reserving == block) {
                reserving = null;
            }
            if (start != null) {
                next = start;
                end = start + BLOCK;
            }
        }
        if (start != null) {
            block.complete(start);
        } else {
            block.completeExceptionally(error);
        }
    }
}
