package io.sluice.testing;

import reactor.blockhound.BlockHound;
import reactor.blockhound.integration.BlockHoundIntegration;

/**
 * What BlockHound must know about Jazzer in every test JVM that runs a {@code @FuzzTest}: once Jazzer's agent is in,
 * its hooks (on regular expressions, among others) initialise Jazzer on whichever thread first reaches one, and that
 * initialisation seeds Jazzer from {@code SecureRandom} and extracts and loads its native library (a temporary
 * directory): reads of the system's random source. When that thread is a non-blocking one (a Reactor timer's), BlockHound would fail the initialisation and
 * leave Jazzer unusable for the rest of the JVM. Only that one-off load is allowed; everything else stays watched.
 */
public final class JazzerBlockHound implements BlockHoundIntegration {

    @Override
    public void applyTo(BlockHound.Builder builder) {
        builder.allowBlockingCallsInside("com.code_intelligence.jazzer.api.Jazzer", "<clinit>")
                .allowBlockingCallsInside("com.code_intelligence.jazzer.bootstrap.com.github.fmeum.rules_jni.RulesJni",
                        "loadLibrary");
    }
}
