package io.sluice.loadtest.suite;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** The P6 CPU readings: the dev process's own, and with the PostgreSQL found from its data directory. */
class CpuTest {

    @Test
    void withoutAPostmasterTheStackIsUnknownAndTheProcessStillCounts(@TempDir Path dataDir) {
        Cpu cpu = Cpu.of(ProcessHandle.current().pid(), dataDir);
        assertThat(cpu.devNanos()).as("this JVM has run").isPositive();
        assertThat(cpu.stackNanos()).isEqualTo(-1);
        assertThat(cpu.minus(new Cpu(0, 5)).stackNanos()).as("unknown stays unknown").isEqualTo(-1);
    }

    @Test
    void thePostmasterIsReadFromItsPidFileUnderTheDataDirectory(@TempDir Path dataDir) throws Exception {
        // this JVM stands in for the postmaster: the stack then counts its time twice
        Path pidFile = dataDir.resolve("postgres").resolve("data").resolve("postmaster.pid");
        Files.createDirectories(pidFile.getParent());
        Files.writeString(pidFile, ProcessHandle.current().pid() + "\n" + dataDir + "\n");
        Cpu cpu = Cpu.of(ProcessHandle.current().pid(), dataDir);
        assertThat(cpu.stackNanos()).isGreaterThanOrEqualTo(2 * cpu.devNanos());
        assertThat(cpu.minus(new Cpu(cpu.devNanos() - 7, cpu.stackNanos() - 9))).isEqualTo(new Cpu(7, 9));
    }
}
