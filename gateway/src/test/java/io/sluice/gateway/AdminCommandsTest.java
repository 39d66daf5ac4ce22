package io.sluice.gateway;

import io.sluice.config.Tier;
import io.sluice.gateway.auth.ApiKeys;
import io.sluice.gateway.admin.EndpointsFile;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.auth.Principal;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code sluice keys} and {@code sluice tenants} as a user runs them next to {@code sluice dev}: no extra flags
 * (the database comes from dev's endpoints.env), the key alone on stdout, a tier changed only on purpose.
 */
@RealInfrastructure
class AdminCommandsTest {

    @TempDir
    Path devDir;
    private ApiKeyStore store;
    private String tenant;
    private ByteArrayOutputStream out;
    private ByteArrayOutputStream err;

    @BeforeEach
    void runningDev(TestInfrastructure infra) throws Exception {
        // what `sluice dev` writes while it runs, pointing here at the test's PostgreSQL
        new EndpointsFile().put("HTTP_URL", "http://127.0.0.1:1").put("PG_URL", infra.postgres().url())
                .put("DEV_API_KEY", "sk_x").writeTo(devDir);
        store = new ApiKeyStore(infra.connectionFactory());
        tenant = "cli-" + UUID.randomUUID().toString().substring(0, 8);
    }

    private int run(String... args) {
        out = new ByteArrayOutputStream();
        err = new ByteArrayOutputStream();
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--dev.data-dir=" + devDir);
        return Main.run(all, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    private Optional<Principal> principal(String key) {
        return store.find(ApiKeys.sha256(key)).blockOptional(Duration.ofSeconds(30));
    }

    @Test
    void keysCreateFindsTheRunningDevAndPrintsOnlyTheKey() {
        assertThat(run("keys", "create", "--tenant", tenant, "--tier", "free")).as(err()).isZero();
        assertThat(out()).matches("sk_[A-Za-z0-9_-]{43}\n");
        assertThat(err()).contains("Using the PostgreSQL of the running `sluice dev`", "endpoints.env",
                "Created an API key for tenant " + tenant + " (free)");
        assertThat(principal(out().strip())).hasValue(new Principal(tenant, Tier.FREE));
    }

    @Test
    void anotherTierIsRefusedAndOnlyTenantsSetTierChangesIt() {
        assertThat(run("keys", "create", "--tenant", tenant, "--tier", "free")).isZero();
        String key = out().strip();

        assertThat(run("keys", "create", "--tenant", tenant, "--tier", "paid")).isEqualTo(2);
        assertThat(out()).as("no key was made").isEmpty();
        assertThat(err()).contains("tenant " + tenant + " exists with tier free, not paid",
                "sluice tenants set-tier --tenant " + tenant + " --tier paid");
        assertThat(principal(key)).as("the tenant's tier is unchanged").hasValue(new Principal(tenant, Tier.FREE));
        assertThat(store.list(tenant).collectList().block(Duration.ofSeconds(30))).hasSize(1);

        assertThat(run("tenants", "set-tier", "--tenant", tenant, "--tier", "paid")).as(err()).isZero();
        assertThat(err()).contains("Tenant " + tenant + ": free -> paid");
        assertThat(principal(key)).hasValue(new Principal(tenant, Tier.PAID));
        assertThat(run("tenants", "show", "--tenant", tenant)).isZero();
        assertThat(out()).isEqualTo(tenant + "\tpaid\n");
        assertThat(run("keys", "create", "--tenant", tenant, "--tier", "paid")).isZero();

        assertThat(run("tenants", "set-tier", "--tenant", "no-such-" + tenant, "--tier", "paid")).isEqualTo(1);
        assertThat(err()).contains("No tenant no-such-" + tenant);
    }

    @Test
    void keysAreListedAndRevokedByKeyPrefixOrAll() {
        run("keys", "create", "--tenant", tenant, "--tier", "free");
        String first = out().strip();
        run("keys", "create", "--tenant", tenant, "--tier", "free");
        String second = out().strip();
        run("keys", "create", "--tenant", tenant, "--tier", "free");
        String third = out().strip();

        assertThat(run("keys", "revoke", "--key", first)).as(err()).isZero();
        assertThat(principal(first)).isEmpty();
        assertThat(principal(second)).isPresent();
        assertThat(run("keys", "revoke", "--key", first)).as("already revoked").isEqualTo(1);
        assertThat(err()).contains("No active key matched");

        assertThat(run("keys", "revoke", "--tenant", tenant, "--prefix", ApiKeys.displayPrefix(second))).isZero();
        assertThat(principal(second)).isEmpty();
        assertThat(principal(third)).isPresent();

        assertThat(run("keys", "list", "--tenant", tenant)).isZero();
        assertThat(out().lines().toList()).hasSize(3)
                .anySatisfy(line -> assertThat(line).startsWith(ApiKeys.displayPrefix(third) + "\t" + tenant)
                        .endsWith("active"))
                .anySatisfy(line -> assertThat(line).startsWith(ApiKeys.displayPrefix(first)).contains("revoked "));

        assertThat(run("keys", "revoke", "--tenant", tenant, "--all")).isZero();
        assertThat(principal(third)).isEmpty();
        assertThat(run("keys", "revoke", "--tenant", tenant)).as("neither --prefix nor --all").isEqualTo(2);
    }

    @Test
    void postgresSettingsGivenWinOverDevAndAnUnreachableDatabaseIsOneLine() throws Exception {
        int closed;
        try (java.net.ServerSocket socket = new java.net.ServerSocket(0)) {
            closed = socket.getLocalPort(); // nobody listens there once closed
        }
        assertThat(run("keys", "create", "--tenant", tenant, "--tier", "free", "--postgres.port=" + closed,
                "--postgres.connect-timeout=1s")).isEqualTo(1);
        assertThat(out()).isEmpty();
        assertThat(err().lines().toList()).hasSize(1).first().asString()
                .startsWith("cannot use PostgreSQL at 127.0.0.1:" + closed + "/sluice as sluice (from the postgres.* "
                        + "settings)")
                .contains("Start `bin/sluice dev`, or point postgres.* at your database");
    }
}
