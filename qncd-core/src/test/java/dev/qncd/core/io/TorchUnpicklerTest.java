package dev.qncd.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.qncd.core.FormatException;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The unpickler's whitelist on hand-written pickles that reach globals through every opcode path
 * (GLOBAL, STACK_GLOBAL, INST, OBJ, REDUCE, NEWOBJ, BUILD, EXT1), including the constructors razorvine
 * registers by default. Exact checks: no numerics involved.
 */
class TorchUnpicklerTest {

    private static Object unpickle(byte[] pickle) {
        CountingInputStream in = new CountingInputStream(new ByteArrayInputStream(pickle), pickle.length);
        return new TorchUnpickler("test.pkl", in, new LinkedHashMap<>(), new ArrayList<>()).read("test");
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** Protocol 0: {@code module.name()} through GLOBAL + REDUCE. */
    private static byte[] callGlobal(String module, String name) {
        return ascii("c" + module + "\n" + name + "\n)R.");
    }

    @ParameterizedTest
    @ValueSource(strings = {"os.system", "posix.system", "builtins.eval", "builtins.exec", "__builtin__.getattr",
        "builtins.getattr", "subprocess.Popen", "copy_reg._reconstructor", "copyreg._reconstructor",
        "datetime.datetime", "decimal.Decimal", "builtins.bytearray", "__builtin__.set", "builtins.set",
        "builtins.slice", "array.array", "operator.attrgetter", "_codecs.encode", "pytz._UTC",
        "numpy.core.multiarray._reconstruct", "numpy.dtype", "argparse.Namespace",
        "pytorch_lightning.callbacks.ModelCheckpoint", "torch.load", "torch._C._nn.gelu",
        "collections.defaultdict", "builtins.ValueError"})
    void refusesEveryGlobalOutsideTheWhitelist(String global) {
        int dot = global.lastIndexOf('.');
        String module = global.substring(0, dot);
        String name = global.substring(dot + 1);
        UnsafeCheckpointException viaGlobal = assertThrows(UnsafeCheckpointException.class,
                () -> unpickle(callGlobal(module, name)));
        assertEquals(global, viaGlobal.global());
        assertTrue(viaGlobal.getMessage().startsWith("refusing to load test.pkl: it references the Python global '"
                + global + "', which could run code"), viaGlobal.getMessage());

        // protocol 4: STACK_GLOBAL
        ByteArrayOutputStream p4 = new ByteArrayOutputStream();
        p4.writeBytes(new byte[] {(byte) 0x80, 4});
        for (String s : List.of(module, name)) {
            p4.write(0x8c);
            p4.write(s.length());
            p4.writeBytes(ascii(s));
        }
        p4.writeBytes(new byte[] {(byte) 0x93, ')', 'R', '.'});
        assertEquals(global, assertThrows(UnsafeCheckpointException.class, () -> unpickle(p4.toByteArray())).global());

        // protocol 0: INST reads the global inline; OBJ takes it from the stack
        assertEquals(global, assertThrows(UnsafeCheckpointException.class,
                () -> unpickle(ascii("(S'echo pwned'\ni" + module + "\n" + name + "\n."))).global());
        assertEquals(global, assertThrows(UnsafeCheckpointException.class,
                () -> unpickle(ascii("(c" + module + "\n" + name + "\nS'x'\no."))).global());
    }

    @Test
    void refusesExtensionCodes() {
        // EXT1 names a global through Python's copyreg registry
        assertThrows(UnsafeCheckpointException.class, () -> unpickle(new byte[] {(byte) 0x80, 2, (byte) 0x82, 1, '.'}));
    }

    @Test
    void whitelistedGlobalsAreNotCallableUnlessTheyBuildData() {
        // a storage class may only appear inside a persistent id
        FormatException e = assertThrows(FormatException.class, () -> unpickle(callGlobal("torch", "FloatStorage")));
        assertTrue(e.getMessage().contains("calls torch.FloatStorage"), e.getMessage());
        // NEWOBJ on torch.Tensor
        assertThrows(FormatException.class, () -> unpickle(ascii("\u0080\u0002ctorch\nTensor\n)\u0081.")));
        // BUILD on anything but a dict or a tensor (here: a list)
        assertThrows(FormatException.class, () -> unpickle(ascii("]}b.")));
    }

    @Test
    void refusesUnsupportedTensorKindsWithoutCallingThemUnsafe() {
        FormatException e = assertThrows(FormatException.class,
                () -> unpickle(callGlobal("torch._utils", "_rebuild_qtensor")));
        assertTrue(!(e instanceof UnsafeCheckpointException) && e.getMessage().contains("a tensor of a kind"), e.getMessage());
    }

    @Test
    void buildsOrderedDictsInPickleOrder() {
        // OrderedDict() then SETITEMS with 40 keys in reverse alphabetical order, protocol 2
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(ascii("\u0080\u0002ccollections\nOrderedDict\n)R("));
        List<String> keys = new ArrayList<>();
        for (int i = 40; i > 0; i--) {
            String k = "layer" + i;
            keys.add(k);
            p.write('X');
            p.writeBytes(new byte[] {(byte) k.length(), 0, 0, 0});
            p.writeBytes(ascii(k));
            p.write('K');
            p.write(i);
        }
        p.writeBytes(ascii("u}b."));  // SETITEMS, then BUILD with an empty state dict (like _metadata)
        Map<?, ?> m = assertInstanceOf(LinkedHashMap.class, unpickle(p.toByteArray()));
        assertEquals(keys, List.copyOf(m.keySet()));
        Map<?, ?> plain = assertInstanceOf(LinkedHashMap.class, unpickle(ascii("(S'b'\nI1\nS'a'\nI2\nd.")));
        assertEquals(List.of("b", "a"), List.copyOf(plain.keySet()), "DICT keeps order too");
    }

    @Test
    void checksLengthsBeforeAllocating() {
        // BINUNICODE claiming 2 GB in a 10-byte pickle
        byte[] p = {(byte) 0x80, 2, 'X', (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x7f, 'a', 'b', '.'};
        FormatException e = assertThrows(FormatException.class, () -> unpickle(p));
        assertTrue(e.getMessage().contains("announces a 2147483647-byte string"), e.getMessage());
    }

    @Test
    void reportsTruncatedAndGarbledPickles() {
        assertTrue(assertThrows(FormatException.class, () -> unpickle(ascii("\u0080\u0002}q\u0000(X")))
                .getMessage().contains("truncated"));
        assertThrows(FormatException.class, () -> unpickle(ascii("\u0080\u0002\u00ff.")));
        assertThrows(FormatException.class, () -> unpickle(ascii("a.")), "APPEND on an empty stack");
        assertThrows(FormatException.class, () -> unpickle(ascii("(K\u0001K\u0002Q.")), "unknown persistent id");
    }

    @Test
    void persistentIdsNameStorages() {
        Map<String, StorageRef> storages = new HashMap<>();
        List<TensorRef> tensors = new ArrayList<>();
        // _rebuild_tensor_v2(('storage', torch.HalfStorage, '7', 'cpu', 6), 2, (2, 2), (1, 2), False, OrderedDict())
        String pickle = "\u0080\u0002ctorch._utils\n_rebuild_tensor_v2\n((X\u0007\u0000\u0000\u0000storage"
                + "ctorch\nHalfStorage\nX\u0001\u0000\u0000\u00007X\u0003\u0000\u0000\u0000cpuK\u0006tQ"
                + "K\u0002K\u0002K\u0002\u0086K\u0001K\u0002\u0086\u0089ccollections\nOrderedDict\n)RtR.";
        byte[] b = ascii(pickle);
        Object t = new TorchUnpickler("t.pt", new CountingInputStream(new ByteArrayInputStream(b), b.length),
                storages, tensors).read("data.pkl");
        TensorRef ref = assertInstanceOf(TensorRef.class, t);
        assertEquals(ElementType.F16, storages.get("7").type);
        assertEquals(6, storages.get("7").numel);
        assertEquals(2, ref.offset);
        assertEquals("offset 2, shape [2, 2], stride [1, 2]", ref.describe());
        assertEquals(List.of(ref), tensors);
    }
}
