package io.sluice.gateway.links;

import io.sluice.storage.links.LinkStore;
import reactor.core.publisher.Mono;

import java.util.concurrent.CompletableFuture;

/**
 * Hands out link ids from blocks of {@value #BLOCK} reserved with one {@code nextval}: most creations need
 * no database round trip for their id, and ids stay unique across nodes.
 */
final class LinkIds {

    static final int BLOCK = 64;

    private final LinkStore store;
    private final Object lock = new Object();
    private long next;
    private long end;
    private CompletableFuture<Long> reserving;

    LinkIds(LinkStore store) {
        this.store = store;
    }

    Mono<Long> next() {
        return Mono.defer(() -> {
            CompletableFuture<Long> waitFor;
            synchronized (lock) {
                if (next < end) {
                    return Mono.just(next++);
                }
                if (reserving == null) {
                    // Waiters chain on this future, which completes only after the block is installed.
                    reserving = store.reserveIdBlock().toFuture().handle((start, error) -> {
                        synchronized (lock) {
                            reserving = null;
                            if (error != null || start == null) {
                                throw new java.util.concurrent.CompletionException(error != null ? error
                                        : new IllegalStateException("no link id block"));
                            }
                            next = start;
                            end = start + BLOCK;
                            return start;
                        }
                    });
                }
                waitFor = reserving;
            }
            return Mono.fromFuture(waitFor, true).then(Mono.defer(this::next));
        });
    }
}
