import java.lang.reflect.Field;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import software.amazon.dynamodb.services.local.main.ServerRunner;
import software.amazon.dynamodb.services.local.server.DynamoDBProxyServer;

/**
 * DynamoDB Local bound to one address (127.0.0.1 unless -Ddynamodb.local.host says otherwise).
 *
 * DynamoDBLocal.jar has no bind option: its DynamoDBProxyServer builds a Jetty Server(port), which
 * listens on every interface. This runner takes the same arguments as the jar (-dbPath, -port,
 * -sharedDb, ...), builds the server the jar's own way, sets the host on its Jetty connector before
 * it starts, and starts it. lib/local/dynamodb-local.ts runs it with Java's single-file source
 * launcher (JEP 330), so there is nothing to build.
 */
public final class LoopbackServerRunner {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("dynamodb.local.host", "127.0.0.1");
    DynamoDBProxyServer proxy = ServerRunner.createServerFromCommandLineArgs(args);
    Field field = DynamoDBProxyServer.class.getDeclaredField("server");
    field.setAccessible(true);
    Server jetty = (Server) field.get(proxy);
    for (Connector connector : jetty.getConnectors()) ((ServerConnector) connector).setHost(host);
    proxy.start();
  }
}
