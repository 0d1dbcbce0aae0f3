import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.shared.access.StreamInfo;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteDBAccess;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteDBAccessJob;
import software.amazon.dynamodb.services.local.shared.access.sqlite.SQLiteIndexElement;
import software.amazon.dynamodb.services.local.shared.access.sqlite.TableSchemaInfo;
import software.amazon.dynamodb.services.local.shared.mapper.DynamoDbObjectMapper;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local bound to one address (127.0.0.1 unless -Ddynamodb.local.host says otherwise).
 *
 * DynamoDBLocal.jar has no bind option: its DynamoDBProxyServer builds a Jetty Server(port), which
 * listens on every interface. This runner takes the same arguments as the jar (-dbPath, -port,
 * -sharedDb, ...), builds the server the jar's own way, sets the host on its Jetty connector before
 * it starts, and starts it. lib/local/dynamodb-local.ts compiles it once per user, Java version and
 * source text (loopbackRunner), into the user's cache.
 *
 * It also never outlives the process that started it: that process holds the other end of its
 * standard input, and when the pipe closes (the parent exited, even by SIGKILL) the server stops.
 * DynamoDB Local runs in a process group of its own, so nothing else would stop it.
 */
public final class LoopbackServerRunner {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
    SchemaCache.install();
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) ((ServerConnector) connector).setHost(host);
    proxy.start();
    Thread parentWatch = new Thread(LoopbackServerRunner::exitWhenParentGone, "parent-watch");
    parentWatch.setDaemon(true);
    parentWatch.start();
  }

  private static void exitWhenParentGone() {
    try {
      while (System.in.read() != -1) {
        // The parent never writes; anything read is ignored.
      }
    } catch (IOException closed) {
      // The same: the pipe is gone.
    }
    System.exit(0);
  }

  /**
   * DynamoDB Local keeps each table's schema (keys, indexes, the SQLite columns they map to) and each
   * stream's settings as JSON documents in SQLite, and parses them again for every item operation: 4
   * KB for a table with three GSIs. A Flight Recorder profile of the bench put that at half of its one
   * SQLite thread's time. This parses each distinct document once and hands every caller a copy of
   * its own, so the few operations that change a schema (UpdateTable, UpdateTimeToLive) change only
   * theirs; the document they write back is new, and parsed once in its turn. Measured: 16-18 % less
   * of DynamoDB Local's CPU per UpdateItem and GetItem, with C1 only (the tests) and with C2.
   *
   * Installed over the jar's own mappers (private static final fields, so through Unsafe). When the
   * jar is not laid out as expected (another release), DynamoDB Local runs as shipped and says so.
   */
  static final class SchemaCache extends DynamoDbObjectMapper {
    /** The documents parsed once: what they parse to holds only lists, maps and immutable values. */
    private static final Set<Class<?>> CACHED = Set.of(TableSchemaInfo.class, StreamInfo.class);
    /** Distinct documents kept: every table and stream of a twin, many times over. */
    private static final int MAX_DOCUMENTS = 256;
    private static final ClassValue<Field[]> FIELDS =
        new ClassValue<>() {
          @Override
          protected Field[] computeValue(Class<?> type) {
            List<Field> fields = new ArrayList<>();
            for (Field field : type.getDeclaredFields()) {
              if (Modifier.isStatic(field.getModifiers())) continue;
              field.setAccessible(true);
              fields.add(field);
            }
            return fields.toArray(new Field[0]);
          }
        };

    private final Map<ByteBuffer, Object> parsed = new ConcurrentHashMap<>();

    /** Over the mappers of the two classes that read them: the item operations', and the others'. */
    static void install() {
      try {
        Field theUnsafe = sun.misc.Unsafe.class.getDeclaredField("theUnsafe");
        theUnsafe.setAccessible(true);
        sun.misc.Unsafe unsafe = (sun.misc.Unsafe) theUnsafe.get(null);
        SchemaCache cache = new SchemaCache();
        for (Class<?> owner : List.of(SQLiteDBAccessJob.class, SQLiteDBAccess.class)) {
          Field mapper = owner.getDeclaredField("MAPPER");
          if (!Modifier.isStatic(mapper.getModifiers()) || mapper.getType() != DynamoDbObjectMapper.class)
            throw new NoSuchFieldException(owner.getSimpleName() + ".MAPPER is not a static DynamoDbObjectMapper");
          Class.forName(owner.getName(), true, owner.getClassLoader());
          unsafe.putObject(unsafe.staticFieldBase(mapper), unsafe.staticFieldOffset(mapper), cache);
        }
      } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
        System.err.println("LoopbackServerRunner: schemas are parsed on every call, as shipped (" + e + ")");
      }
    }

    /** Set when a copy failed (a release whose schema objects hold other types): parsed each time from then on. */
    private volatile boolean disabled;

    @Override
    public <T> T readValue(byte[] src, Class<T> valueType) throws IOException {
      if (disabled || !CACHED.contains(valueType)) return super.readValue(src, valueType);
      ByteBuffer key = ByteBuffer.wrap(src);
      Object value = parsed.get(key);
      if (value == null) {
        value = super.readValue(src, valueType);
        if (parsed.size() >= MAX_DOCUMENTS) parsed.clear();
        parsed.put(ByteBuffer.wrap(src.clone()), value);
      }
      try {
        return valueType.cast(copy(value));
      } catch (RuntimeException e) {
        disabled = true;
        parsed.clear();
        System.err.println("LoopbackServerRunner: schemas are parsed on every call, as shipped (" + e + ")");
        return super.readValue(src, valueType);
      }
    }

    /** A deep copy of the lists, maps and the jar's own mutable objects; the SDK's model objects are immutable. */
    private static Object copy(Object value) {
      if (value instanceof Collection<?> collection) {
        List<Object> copied = new ArrayList<>(collection.size());
        for (Object element : collection) copied.add(copy(element));
        return copied;
      }
      if (value instanceof Map<?, ?> map) {
        Map<Object, Object> copied = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : map.entrySet()) copied.put(entry.getKey(), copy(entry.getValue()));
        return copied;
      }
      if (value instanceof TableSchemaInfo || value instanceof SQLiteIndexElement || value instanceof StreamInfo)
        return copyFields(value);
      return value;
    }

    private static Object copyFields(Object source) {
      try {
        Object target = source.getClass().getDeclaredConstructor().newInstance();
        for (Field field : FIELDS.get(source.getClass())) field.set(target, copy(field.get(source)));
        return target;
      } catch (ReflectiveOperationException e) {
        throw new IllegalStateException("cannot copy a " + source.getClass().getName(), e);
      }
    }
  }
}
