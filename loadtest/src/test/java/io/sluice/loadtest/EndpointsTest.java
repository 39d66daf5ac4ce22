package io.sluice.loadtest;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class EndpointsTest {

    @Test
    void readsTheFileThatSluiceDevWrites(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("endpoints.env");
        Files.writeString(file, """
                # Written by `sluice dev`; valid while it runs.
                HTTP_URL=http://127.0.0.1:8180
                KAFKA_BOOTSTRAP=127.0.0.1:33473
                PG_URL=postgresql://postgres@127.0.0.1:5433/sluice

                DEV_API_KEY = sk_abc=def
                """);
        Endpoints env = Endpoints.read(file);
        assertThat(env.values()).hasSize(4).containsEntry("DEV_API_KEY", "sk_abc=def");
        assertThat(env.httpHostPort("x")).isEqualTo("127.0.0.1:8180");
        assertThat(env.postgres().getPort()).isEqualTo(5433);
        assertThat(env.postgres().getUserInfo()).isEqualTo("postgres");
    }

    @Test
    void aMissingFileReadsAsNoEndpoints(@TempDir Path dir) {
        Endpoints env = Endpoints.read(dir.resolve("absent.env"));
        assertThat(env.values()).isEmpty();
        assertThat(env.httpHostPort("127.0.0.1:8080")).isEqualTo("127.0.0.1:8080");
        assertThatThrownBy(env::postgres).hasMessageContaining("no PG_URL");
    }
}
