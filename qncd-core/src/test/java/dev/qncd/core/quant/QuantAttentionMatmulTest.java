package dev.qncd.core.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import dev.qncd.core.quant.QuantAttentionMatmul.Point;
import dev.qncd.core.quant.QuantAttentionMatmul.ScalePlacement;
import java.util.EnumSet;
import org.junit.jupiter.api.Test;

/** Attention matmul quantization points. */
class QuantAttentionMatmulTest {

    @Test
    void quantizersSitWhereTheReferencePutsThem() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray q = m.create(TestData.gaussian(1, 2 * 5 * 8, 1), new Shape(2, 5, 8));
            NDArray k = m.create(TestData.gaussian(2, 2 * 6 * 8, 1), new Shape(2, 6, 8));
            NDArray v = m.create(TestData.gaussian(3, 2 * 6 * 8, 1), new Shape(2, 6, 8));
            float scale = (float) (1 / Math.sqrt(8));
            try (QuantAttentionMatmul attn = new QuantAttentionMatmul("attn1", QuantizerConfig.activation(4),
                    QuantizerConfig.softmax(8), ScalePlacement.AFTER_QK, m)) {
                NDArray fp = q.matMul(k.transpose(0, 2, 1)).mul(scale).softmax(-1).matMul(v);
                // exact: nothing enabled runs the same ops
                assertArrayEquals(TestData.bits(fp.toFloatArray()),
                        TestData.bits(attn.forward(q, k, v, scale).toFloatArray()));

                attn.calibrate(q, k, v, scale);
                attn.freeze();
                attn.setActQuant(true);
                UniformAffineQuantizer qq = attn.quantizer(Point.Q);
                UniformAffineQuantizer kq = attn.quantizer(Point.K);
                UniformAffineQuantizer vq = attn.quantizer(Point.V);
                UniformAffineQuantizer wq = attn.quantizer(Point.SOFTMAX);
                NDArray a = qq.fakeQuantize(q).matMul(kq.fakeQuantize(k).transpose(0, 2, 1)).mul(scale).softmax(-1);
                NDArray want = wq.fakeQuantize(a).matMul(vq.fakeQuantize(v));
                // exact: Q(q), Q(k) before QKᵀ, scale after, Q_w(softmax) and Q(v) before the second matmul
                assertArrayEquals(TestData.bits(want.toFloatArray()),
                        TestData.bits(attn.forward(q, k, v, scale).toFloatArray()));
                // the softmax quantizer is unsigned with zero point 0
                assertEquals(0f, wq.zeroPoint().getFloat(), 0f);
                assertTrue(wq.fakeQuantize(a).min().getFloat() >= 0f);

                attn.setEnabled(EnumSet.of(Point.V));
                NDArray onlyV = q.matMul(k.transpose(0, 2, 1)).mul(scale).softmax(-1).matMul(vq.fakeQuantize(v));
                assertArrayEquals(TestData.bits(onlyV.toFloatArray()),
                        TestData.bits(attn.forward(q, k, v, scale).toFloatArray()));
                assertEquals(4, attn.quantizersByKey().size());
            }
            try (QuantAttentionMatmul split = new QuantAttentionMatmul("att", QuantizerConfig.activation(16),
                    QuantizerConfig.softmax(16), ScalePlacement.SPLIT_BEFORE_QUANT, m)) {
                NDArray fp = q.matMul(k.transpose(0, 2, 1)).mul(scale).softmax(-1).matMul(v);
                // tolerance 1e-5: √scale applied to q and k separately rounds differently from scale on QKᵀ
                assertTrue(fp.sub(split.forward(q, k, v, scale)).abs().max().getFloat() < 1e-5f);
                split.calibrate(q, k, v, scale);
                split.setActQuant(true);
                // tolerance 1e-3: 16-bit steps on q, k (range ~6/65535), v and probabilities
                assertTrue(fp.sub(split.forward(q, k, v, scale)).abs().max().getFloat() < 1e-3f);
            }
        }
    }
}
