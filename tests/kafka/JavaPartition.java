// Prints, for each key argument, the partition the Java producer's built-in partitioner picks.
// Usage: java -cp 'kafka-libs/*' JavaPartition.java <partitions> <key>...
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
import java.nio.charset.StandardCharsets;

public class JavaPartition {
    public static void main(String[] args) {
        int partitions = Integer.parseInt(args[0]);
        StringBuilder out = new StringBuilder();
        for (int i = 1; i < args.length; i++) {
            byte[] key = args[i].getBytes(StandardCharsets.UTF_8);
            out.append(BuiltInPartitioner.partitionForKey(key, partitions)).append('\n');
        }
        System.out.print(out);
    }
}
