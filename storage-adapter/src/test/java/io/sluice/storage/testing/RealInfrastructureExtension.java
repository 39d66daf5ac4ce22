package io.sluice.storage.testing;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;

/**
 * Starts {@link TestInfrastructure} once per test JVM (kept in the root store, so JUnit closes it after
 * the last test) and resolves it as a parameter.
 */
public final class RealInfrastructureExtension implements BeforeAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NAMESPACE =
            ExtensionContext.Namespace.create(RealInfrastructureExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        infrastructure(context);
    }

    @Override
    public boolean supportsParameter(ParameterContext parameter, ExtensionContext context) {
        return parameter.getParameter().getType() == TestInfrastructure.class;
    }

    @Override
    public Object resolveParameter(ParameterContext parameter, ExtensionContext context) {
        return infrastructure(context);
    }

    private static TestInfrastructure infrastructure(ExtensionContext context) {
        return context.getRoot().getStore(NAMESPACE)
                .getOrComputeIfAbsent(TestInfrastructure.class, type -> TestInfrastructure.start(),
                        TestInfrastructure.class);
    }
}
