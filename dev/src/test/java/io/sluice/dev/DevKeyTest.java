package io.sluice.dev;

import io.sluice.config.Tier;
import io.sluice.gateway.auth.ApiKeys;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/** The dev key: kept in the dev directory and reused across runs, unless reset or no longer valid. */
@RealInfrastructure
class DevKeyTest {

    @Test
    void keptAcrossRunsUntilResetOrDeleted(TestInfrastructure infra, @TempDir Path dir) throws Exception {
        ApiKeyStore store = new ApiKeyStore(infra.connectionFactory());
        String tenant = "dev-" + UUID.randomUUID().toString().substring(0, 8);
        var pg = infra.config().postgres();

        DevKey first = DevKey.ensure(pg, dir, tenant, false);
        assertThat(first.reused()).isFalse();
        assertThat(first.tier()).isEqualTo(Tier.ENTERPRISE);
        assertThat(dir.resolve(DevKey.FILE_NAME)).hasContent(first.key());
        assertThat(Files.getPosixFilePermissions(dir.resolve(DevKey.FILE_NAME)))
                .containsExactlyInAnyOrder(java.nio.file.attribute.PosixFilePermission.OWNER_READ,
                        java.nio.file.attribute.PosixFilePermission.OWNER_WRITE);

        DevKey second = DevKey.ensure(pg, dir, tenant, false);
        assertThat(second).isEqualTo(new DevKey(first.key(), Tier.ENTERPRISE, true));

        DevKey reset = DevKey.ensure(pg, dir, tenant, true);
        assertThat(reset.key()).isNotEqualTo(first.key());
        assertThat(find(store, first.key())).as("the old key is revoked").isEmpty();
        assertThat(find(store, reset.key())).hasValue(new Principal(tenant, Tier.ENTERPRISE));

        Files.delete(dir.resolve(DevKey.FILE_NAME));
        store.setTier(tenant, Tier.PAID).block(Duration.ofSeconds(30));
        DevKey afterDelete = DevKey.ensure(pg, dir, tenant, false);
        assertThat(afterDelete.reused()).isFalse();
        assertThat(afterDelete.tier()).as("an existing dev tenant keeps its tier").isEqualTo(Tier.PAID);
        assertThat(find(store, reset.key())).isEmpty();

        store.revokeAll(tenant).block(Duration.ofSeconds(30));
        DevKey afterRevoke = DevKey.ensure(pg, dir, tenant, false);
        assertThat(afterRevoke.reused()).as("a kept key the database no longer accepts is replaced").isFalse();
        assertThat(find(store, afterRevoke.key())).isPresent();
    }

    private static Optional<Principal> find(ApiKeyStore store, String key) {
        return store.find(ApiKeys.sha256(key)).blockOptional(Duration.ofSeconds(30));
    }
}
