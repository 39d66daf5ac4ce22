package io.sluice.storage.testing;

import org.junit.jupiter.api.extension.ExtendWith;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Gives a test class the real Kafka broker and real PostgreSQL of this test JVM, started once for all
 * classes and stopped when the JVM's tests end. Declare a {@link TestInfrastructure} parameter on a
 * test, lifecycle method or constructor to receive it.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RealInfrastructureExtension.class)
public @interface RealInfrastructure {
}
