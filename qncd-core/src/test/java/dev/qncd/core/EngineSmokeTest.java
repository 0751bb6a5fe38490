package dev.qncd.core;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.Test;

/** The pinned PyTorch native library loads offline and computes. */
class EngineSmokeTest {
    @Test
    void pytorchEngineRunsOffline() {
        assertEquals("true", System.getProperty("ai.djl.offline"));
        assertEquals("PyTorch", Engine.getInstance().getEngineName());
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray a = m.create(new float[] {1, 2, 3, 4}, new ai.djl.ndarray.types.Shape(2, 2));
            // exact: small integers are exactly representable in float32
            assertEquals(52f, a.matMul(a.transpose()).sum().getFloat(), 0f);
        }
    }
}
