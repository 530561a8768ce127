package dev.canopy.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.training.ParameterStore;
import org.junit.jupiter.api.Test;

class ArchitectureTest {
    private static long parameters(Block b) {
        return b.getParameters().values().stream()
                .filter(p -> p.getType() != ai.djl.nn.Parameter.Type.RUNNING_MEAN && p.getType() != ai.djl.nn.Parameter.Type.RUNNING_VAR)
                .mapToLong(p -> p.getArray().size()).sum();
    }

    @Test
    void resnet18HasTorchvisionsLayout() {
        try (NDManager m = Engines.newManager()) {
            Block b = Architecture.RESNET18.build(1000);
            b.initialize(m, DataType.FLOAT32, new Shape(1, 3, 224, 224));
            // torchvision.models.resnet18(): 11,689,512 parameters
            assertThat(parameters(b)).isEqualTo(11_689_512L);
            NDList out = b.forward(new ParameterStore(m, false), new NDList(m.ones(new Shape(2, 3, 224, 224))), false);
            assertThat(out.singletonOrThrow().getShape()).isEqualTo(new Shape(2, 1000));
        }
    }

    @Test
    void smallCnnIsSmall() {
        try (NDManager m = Engines.newManager()) {
            Block b = Architecture.SMALL_CNN.build(5);
            b.initialize(m, DataType.FLOAT32, new Shape(1, 3, 64, 64));
            assertThat(parameters(b)).isLessThan(400_000L);
        }
    }

    @Test
    void unknownArchitectureNamesTheChoices() {
        assertThatThrownBy(() -> Architecture.of("resnet50")).hasMessageContaining("resnet50").isInstanceOf(ModelException.class);
        assertThat(Architecture.of("small_cnn")).isEqualTo(Architecture.SMALL_CNN);
    }
}
