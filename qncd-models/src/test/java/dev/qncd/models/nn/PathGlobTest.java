package dev.qncd.models.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qncd.core.QncdException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Glob rules on layer paths (no engine needed). */
class PathGlobTest {
    @Test
    void starIsOneSegmentAndDoubleStarAnyNumber() {
        PathGlob conv1 = PathGlob.compile("up.*.block.*.conv1");
        assertTrue(conv1.matches("up.3.block.2.conv1"));
        assertFalse(conv1.matches("up.3.block.2.conv1.x"));
        assertFalse(conv1.matches("down.0.block.0.conv1"));
        assertFalse(conv1.matches("up.3.block.conv1"));

        PathGlob temb = PathGlob.compile("**.temb_proj");
        assertTrue(temb.matches("mid.block_1.temb_proj"));
        assertTrue(temb.matches("temb_proj"));
        assertFalse(temb.matches("mid.block_1.temb_proj2"));

        PathGlob level = PathGlob.compile("down.0.**");
        assertTrue(level.matches("down.0.block.1.nin_shortcut"));
        assertTrue(level.matches("down.0"));
        assertFalse(level.matches("down.01.block.0.conv1"));

        assertTrue(PathGlob.compile("mid.*.?").matches("mid.attn_1.q"));
        assertTrue(PathGlob.compile("mid.block_*.conv*").matches("mid.block_2.conv2"));
        assertTrue(PathGlob.compile("**").matches("conv_in"));
        assertTrue(PathGlob.compile("conv_in").matches("conv_in"));
        assertFalse(PathGlob.compile("conv_in").matches("conv_out"));
        assertTrue(PathGlob.compile("a.**.b").matches("a.b"));
        assertTrue(PathGlob.compile("a.**.b").matches("a.x.y.b"));
        assertFalse(PathGlob.compile("a.**.b").matches("a.x.y.c"));
    }

    @Test
    void selectKeepsOrderAndStrictNamesUnmatchedRules() {
        Map<String, Integer> layers = new LinkedHashMap<>();
        for (String p : List.of("conv_in", "down.0.block.0.conv1", "up.1.block.0.conv1", "up.0.block.2.conv1",
                "up.0.block.2.conv2", "conv_out")) {
            layers.put(p, layers.size());
        }
        assertEquals(List.of("up.1.block.0.conv1", "up.0.block.2.conv1"),
                List.copyOf(PathGlob.select(layers, List.of("up.*.block.*.conv1")).keySet()));
        assertEquals(List.of("conv_in", "conv_out"),
                List.copyOf(PathGlob.select(layers, List.of("conv_out", "conv_in")).keySet()));
        QncdException e = assertThrows(QncdException.class,
                () -> PathGlob.selectStrict(layers, List.of("conv_in", "up.*.blocks.*.conv1")));
        assertTrue(e.getMessage().contains("[up.*.blocks.*.conv1]") && e.getMessage().contains("conv_in"), e.getMessage());
    }

    @Test
    void malformedRulesNameTheFix() {
        for (String bad : new String[] {"", "up..conv1", ".conv1", "conv1.", "up.**x.conv1"}) {
            QncdException e = assertThrows(QncdException.class, () -> PathGlob.compile(bad), bad);
            assertTrue(e.getMessage().contains("up.*.block.*.conv1") || e.getMessage().contains("down.0.**"),
                    e.getMessage());
        }
    }
}
