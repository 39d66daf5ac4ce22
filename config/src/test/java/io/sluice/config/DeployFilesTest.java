package io.sluice.config;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The container files cannot be run here (no Docker engine), so what can be checked by reading is: the image's
 * configuration passes Sluice's validation and puts the spool on the image's volume, owned by the user the image
 * runs as, and compose keeps Kafka's log directory on Kafka's volume.
 */
class DeployFilesTest {

    private static final Path ROOT = Path.of("..");

    @Test
    void theImageConfigurationIsValidAndSpoolsOnTheVolumeTheImageUserOwns() throws IOException {
        Path properties = ROOT.resolve("deploy/sluice.properties");
        SluiceConfig config = ConfigLoader.load(properties, Map.of(), Map.of());
        Path spool = config.spool().dir();
        assertThat(spool).as("an absolute spool.dir, not one under the root-owned WORKDIR").isAbsolute()
                .startsWithRaw(Path.of("/var/lib/sluice"));

        String dockerfile = Files.readString(ROOT.resolve("Dockerfile"), StandardCharsets.UTF_8);
        assertThat(dockerfile).contains("COPY deploy/sluice.properties /etc/sluice/sluice.properties")
                .contains("CMD [\"serve\", \"--config\", \"/etc/sluice/sluice.properties\"]")
                .contains("VOLUME [\"/var/lib/sluice\"]")
                .contains("mkdir -p " + spool)
                .contains("chown -R sluice:sluice /var/lib/sluice");
        assertThat(dockerfile.indexOf("USER sluice:sluice")).as("the image runs as sluice")
                .isGreaterThan(dockerfile.indexOf("chown -R sluice:sluice /var/lib/sluice"));
    }

    @Test
    void composeKeepsKafkaLogsAndTheSpoolOnVolumes() throws IOException {
        String compose = Files.readString(ROOT.resolve("deploy/compose.yaml"), StandardCharsets.UTF_8);
        Matcher logDirs = Pattern.compile("KAFKA_LOG_DIRS:\\s*(\\S+)").matcher(compose);
        assertThat(logDirs.find()).as("KAFKA_LOG_DIRS set (the image's default is under /tmp)").isTrue();
        assertThat(compose).contains("- kafka-data:" + logDirs.group(1))
                .contains("- sluice-spool:/var/lib/sluice")
                .containsPattern("(?m)^  sluice-spool:");
    }
}
