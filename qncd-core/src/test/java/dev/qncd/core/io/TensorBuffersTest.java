package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Widening of the types DJL's PyTorch engine cannot hold; exact, since both widenings are lossless. */
class TensorBuffersTest {
    @Test
    void bfloat16AndInt16AreWidenedExactly() {
        try (NDManager m = NDManager.newBaseManager()) {
            ByteBuffer bf = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
            bf.putShort((short) 0x3fc0).putShort((short) 0xc040).putShort((short) 0x7f80).flip(); // 1.5, -3, +inf
            NDArray f = TensorBuffers.fromLittleEndian(m, bf, new long[] {3}, ElementType.BF16);
            assertEquals(DataType.FLOAT32, f.getDataType());
            assertArrayEquals(new float[] {1.5f, -3f, Float.POSITIVE_INFINITY}, f.toFloatArray(), 0f);

            ByteBuffer i16 = ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN);
            i16.putShort((short) -32768).putShort((short) 32767).putShort((short) -1).flip();
            NDArray i = TensorBuffers.fromLittleEndian(m, i16, new long[] {1, 3}, ElementType.I16);
            assertEquals(DataType.INT32, i.getDataType());
            assertArrayEquals(new int[] {-32768, 32767, -1}, i.toIntArray());
        }
    }

    @Test
    void heapBuffersAreCopied() {
        try (NDManager m = NDManager.newBaseManager()) {
            ByteBuffer b = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            b.putFloat(2f).putFloat(-0.5f).flip();
            NDArray x = TensorBuffers.fromLittleEndian(m, b, new long[] {2}, ElementType.F32);
            b.putFloat(0, 99f);
            assertArrayEquals(new float[] {2f, -0.5f}, x.toFloatArray(), 0f);
        }
    }
}
