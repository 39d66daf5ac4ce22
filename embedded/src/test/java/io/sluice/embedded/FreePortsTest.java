package io.sluice.embedded;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

class FreePortsTest {

    @Test
    void aPortHandedOutIsHeldForItsOwnerForTheLifeOfTheProcess() {
        Path postgres = Path.of("/tmp/free-ports-test/postgres").toAbsolutePath();
        Path kafka = Path.of("/tmp/free-ports-test/kafka").toAbsolutePath();
        int port = FreePorts.pick(postgres);
        assertThat(FreePorts.claim(port, kafka)).as("another owner's port, free as it is").isFalse();
        assertThat(FreePorts.claim(port, postgres)).as("its owner gets it back (a restart)").isTrue();
        Set<Integer> kafkas = new HashSet<>();
        for (int i = 0; i < 200; i++) {
            kafkas.add(FreePorts.pick(kafka));
        }
        assertThat(kafkas).doesNotContain(port);
        for (int k : kafkas) {
            assertThat(FreePorts.claim(k, postgres)).isFalse();
        }
    }
}
