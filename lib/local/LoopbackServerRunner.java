import java.io.IOException;
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
 *
 * It also never outlives the process that started it: that process holds the other end of its
 * standard input, and when the pipe closes (the parent exited, even by SIGKILL) the server stops.
 * DynamoDB Local runs in a process group of its own, so nothing else would stop it.
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
}
