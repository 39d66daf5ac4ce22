package io.sluice.storage.testing;

import org.junit.jupiter.api.Test;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;

import static org.assertj.core.api.Assertions.assertThat;

/** Jazzer initialised first on a non-blocking thread (as its hooks may do) still works: see {@code io.sluice.testing.JazzerBlockHound}. */
class JazzerBlockHoundTest {

    @Test
    void jazzerInitialisesOnANonBlockingThread() {
        Class<?> jazzer = Mono.fromCallable(() -> Class.forName("com.code_intelligence.jazzer.api.Jazzer", true,
                        JazzerBlockHoundTest.class.getClassLoader()))
                .subscribeOn(Schedulers.parallel())
                .block(Duration.ofSeconds(30));
        assertThat(jazzer).isNotNull();
    }
}
