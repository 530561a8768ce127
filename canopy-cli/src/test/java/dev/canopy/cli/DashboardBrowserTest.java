package dev.canopy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.canopy.api.Json;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.ExpectedConditions;

/**
 * The dashboard in a real browser (Debian's headless chromium) against {@code canopy server} as a real process, on a
 * home filled by {@code canopy demo}: every page loads without console errors, the trial chart and the map show what
 * the API holds, promote works through the confirmation dialog, a cluster is created, scaled and stopped from the
 * page, and a token without the admin scope sees no admin button and cannot use the admin endpoints.
 * Screenshots of each page go to {@code target/dashboard} ({@code -Dcanopy.ui.screenshots=DIR} to write them elsewhere,
 * as docs/holds them).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardBrowserTest {
    static final HttpClient HTTP = HttpClient.newHttpClient();
    Path tmp;
    Path home;
    Path shots;
    ServerProcess server;
    String admin;
    String reader;
    Browser browser;
    String predictionJob;

    @BeforeAll
    void start() throws Exception {
        tmp = Files.createTempDirectory("canopy-ui");
        home = tmp.resolve("home");
        shots = Path.of(System.getProperty("canopy.ui.screenshots", "target/dashboard"));
        MainTest.Result demo = MainTest.runIn(home, "demo", "--tiles", "200", "--epochs", "2");
        assertThat(demo.code()).as(demo.err()).isZero();
        // a hostile folder name (legal on Linux) reaches the page as the job's name: it must stay text
        copy(home.resolve("jobs/demo-infer"), home.resolve("jobs").resolve(HOSTILE));
        server = ServerProcess.start(home);
        admin = token("read,predict,train,admin");
        reader = token("read");
        browser = new Browser(tmp.resolve("profile"));
        for (JsonNode j : get("/v1/jobs", admin).get("items")) {
            if (j.get("request").path("name").asText().equals("demo-infer")) predictionJob = j.get("id").asText();
        }
        assertThat(predictionJob).as("the demo's job is listed").isNotNull();
        signIn(admin);
    }

    static final String HOSTILE = "<img src=x onerror=window.pwned=1>";

    static void copy(Path from, Path to) throws java.io.IOException {
        try (java.util.stream.Stream<Path> all = Files.walk(from)) {
            for (Path p : all.toList()) Files.copy(p, to.resolve(from.relativize(p).toString()));
        }
    }

    String token(String scopes) {
        MainTest.Result made = MainTest.runIn(home, "token", "create", "--team", "demo", "--scopes", scopes);
        assertThat(made.code()).as(made.err()).isZero();
        return made.out().trim();
    }

    JsonNode get(String path, String token) throws Exception {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(server.base() + path)).header("Authorization", "Bearer " + token).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(r.statusCode()).as(path + ": " + r.body()).isEqualTo(200);
        return Json.MAPPER.readTree(r.body());
    }

    int post(String path, String token, String body) throws Exception {
        return HTTP.send(HttpRequest.newBuilder(URI.create(server.base() + path)).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString()).statusCode();
    }

    void signIn(String token) {
        browser.driver.get(server.base() + "/ui/");
        WebElement box = browser.waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
        box.sendKeys(token);
        browser.driver.findElement(By.cssSelector("#sign-in button[type=submit]")).click();
        browser.waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#jobs tbody tr")));
    }

    void open(String hash, By ready) {
        browser.driver.get(server.base() + "/ui/" + hash);
        browser.waiting().until(ExpectedConditions.presenceOfElementLocated(ready));
    }

    /** Confirms the page's dialog after a click that asks for it. */
    void clickAndConfirm(WebElement button) {
        button.click();
        browser.waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("confirm-ok"))).click();
    }

    @Test
    @Order(1)
    void everyPageLoadsWithoutConsoleErrors() throws Exception {
        String experiment = get("/v1/experiments", admin).get("items").get(0).get("id").asText();
        Map<String, By> pages = new java.util.LinkedHashMap<>();
        pages.put("#/jobs", By.cssSelector("#jobs tbody tr[data-job-id='" + predictionJob + "']"));
        pages.put("#/jobs/" + predictionJob, By.cssSelector("#map polygon.tile"));
        pages.put("#/experiments", By.cssSelector("table.sortable tbody tr"));
        pages.put("#/experiments/" + experiment, By.cssSelector("#trial-chart path.trial-line"));
        pages.put("#/models", By.cssSelector("#models tbody tr"));
        pages.put("#/models/land-cover", By.id("confusion"));
        pages.put("#/clusters", By.cssSelector("h1"));
        String[] names = {"jobs-demo", "job", "experiments", "experiment", "models", "model", "clusters-empty"};
        int i = 0;
        browser.consoleErrors();
        for (Map.Entry<String, By> p : pages.entrySet()) {
            open(p.getKey(), p.getValue());
            Thread.sleep(500); // late requests (images, streams) report their failures a moment after the page is drawn
            assertThat(browser.consoleErrors()).as("console errors on " + p.getKey()).isEmpty();
            assertThat(browser.driver.findElements(By.cssSelector(".error-box"))).as("an error shown on " + p.getKey()).isEmpty();
            browser.screenshot(shots.resolve("dashboard-" + names[i++] + ".png"));
        }
        // the hostile name is shown as text, and nothing of it ran
        open("#/jobs", By.cssSelector("#jobs tbody tr[data-job-id='" + predictionJob + "']"));
        assertThat(browser.driver.findElement(By.id("jobs")).getText()).contains(HOSTILE);
        assertThat(browser.driver.executeScript("return window.pwned === undefined && document.querySelectorAll('#jobs img').length === 0")).isEqualTo(true);
        // the job page: counters, throughput, stages and the log address
        open("#/jobs/" + predictionJob, By.id("throughput-line"));
        assertThat(browser.driver.findElement(By.id("c-tiles")).getText()).contains("200");
        assertThat(browser.driver.findElements(By.cssSelector("#stages tbody tr"))).isNotEmpty();
        assertThat(browser.driver.findElement(By.id("log-link")).getAttribute("href")).endsWith("/v1/jobs/" + predictionJob + "/logs");
    }

    @Test
    @Order(2)
    void aNewPredictionAppearsAndFinishesInTheListWithoutAReloadAndItsMapDrawsTheArea() throws Exception {
        open("#/jobs", By.cssSelector("#jobs tbody tr"));
        browser.driver.executeScript("window.canopyNoReload = true"); // gone if the page reloads
        JsonNode e = get("/v1/surveys", admin).get("items").get(0).get("extent");
        double x0 = e.get(0).asDouble(), y0 = e.get(1).asDouble(), x1 = e.get(2).asDouble(), y1 = e.get(3).asDouble(), xm = (x0 + x1) / 2;
        String area = String.format(java.util.Locale.ROOT, "{\"type\":\"Polygon\",\"coordinates\":[[[%f,%f],[%f,%f],[%f,%f],[%f,%f],[%f,%f]]]}",
                x0, y0, xm, y0, xm, y1, x0, y1, x0, y0);
        HttpResponse<String> made = HTTP.send(HttpRequest.newBuilder(URI.create(server.base() + "/v1/predictions")).header("Authorization", "Bearer " + admin)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(
                        "{\"survey\": \"demo\", \"model\": \"land-cover@staging\", \"area\": " + area + "}")).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(made.statusCode()).as(made.body()).isEqualTo(202);
        String id = Json.MAPPER.readTree(made.body()).get("id").asText();
        browser.waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#jobs tr[data-job-id='" + id + "']")));
        new org.openqa.selenium.support.ui.WebDriverWait(browser.driver, java.time.Duration.ofMinutes(4)).until(ExpectedConditions.presenceOfElementLocated(
                By.cssSelector("#jobs tr[data-job-id='" + id + "'][data-status='succeeded']")));
        assertThat(browser.driver.executeScript("return window.canopyNoReload === true")).as("updated in place").isEqualTo(true);
        // the docs' picture without the hostile-name fixture of the first test (the row stays in the page's data)
        browser.driver.executeScript("document.querySelectorAll('#jobs tbody tr').forEach(tr => { if (tr.textContent.includes('<img')) tr.remove(); })");
        browser.screenshot(shots.resolve("dashboard-jobs.png"));
        long tiles = get("/v1/jobs/" + id, admin).get("result").get("tiles").asLong();
        assertThat(tiles).isPositive().isLessThan(200);
        open("#/jobs/" + id, By.cssSelector("#map path.area"));
        assertThat(browser.driver.findElements(By.cssSelector("#map polygon.tile"))).hasSize((int) tiles);
        assertThat(browser.driver.findElement(By.id("legend")).getText()).contains(" ha");
        browser.screenshot(shots.resolve("dashboard-job-area.png"));
        assertThat(browser.consoleErrors()).isEmpty();
    }

    @Test
    @Order(3)
    void theTrialChartHasOneLinePerTrialAndStoppedTrialsEndEarly() throws Exception {
        String id = get("/v1/experiments", admin).get("items").get(0).get("id").asText();
        JsonNode e = get("/v1/experiments/" + id, admin);
        open("#/experiments/" + id, By.cssSelector("#trial-chart path.trial-line"));
        List<WebElement> lines = browser.driver.findElements(By.cssSelector("#trial-chart path.trial-line"));
        int withCurves = 0, longest = 0;
        Set<String> stopped = new HashSet<>();
        for (JsonNode t : e.get("trials")) {
            if (t.get("curve").size() > 0) withCurves++;
            longest = Math.max(longest, t.get("curve").size());
            if (t.get("status").asText().equals("stopped")) stopped.add(t.get("id").asText());
        }
        assertThat(lines).hasSize(withCurves);
        assertThat(stopped).as("the demo's ASHA stops some trials").isNotEmpty();
        for (WebElement line : lines) {
            String trial = line.getAttribute("data-trial");
            int iterations = Integer.parseInt(line.getAttribute("data-iterations"));
            if (stopped.contains(trial)) {
                assertThat(iterations).as(trial + " stopped early").isLessThan(longest);
                assertThat(browser.driver.findElements(By.cssSelector("#trial-chart g.stop-mark[data-trial='" + trial + "']"))).as("a mark where " + trial + " stopped").hasSize(1);
            }
        }
        assertThat(browser.driver.findElements(By.cssSelector("#trial-chart path.trial-line.best"))).hasSize(1)
                .first().extracting(l -> l.getAttribute("data-trial")).isEqualTo(e.get("best_trial").asText());
        assertThat(browser.driver.findElement(By.cssSelector(".saved")).getText()).contains(e.get("cost").get("saved_percent").asText().replace(".0", ""));
        // the refined search beside its coarse parent
        assertThat(e.has("refined")).as("the demo refines its search").isTrue();
        assertThat(browser.driver.findElements(By.cssSelector("#side-by-side svg.chart"))).hasSize(2);
        // the table sorts: by iterations, descending after two clicks
        WebElement header = browser.driver.findElement(By.cssSelector("table.sortable th[data-key='iterations']"));
        header.click();
        browser.driver.findElement(By.cssSelector("table.sortable th[data-key='iterations']")).click();
        List<WebElement> cells = browser.driver.findElements(By.cssSelector("table.sortable tbody tr td:nth-child(3)")).subList(0, e.get("trials").size());
        List<Integer> shown = cells.stream().map(c -> Integer.parseInt(c.getText())).toList();
        assertThat(shown).isSortedAccordingTo(java.util.Comparator.reverseOrder());
    }

    @Test
    @Order(4)
    void theMapHasOneShapePerTileAndItsColoursFollowTheLegend() throws Exception {
        JsonNode job = get("/v1/jobs/" + predictionJob, admin);
        long tiles = job.get("result").get("tiles").asLong();
        open("#/jobs/" + predictionJob, By.cssSelector("#map polygon.tile"));
        List<WebElement> shapes = browser.driver.findElements(By.cssSelector("#map polygon.tile"));
        assertThat(shapes).hasSize((int) tiles);
        assertColoursFollowLegend(shapes, true);
        // by one class's probability: a ramp
        new org.openqa.selenium.support.ui.Select(browser.driver.findElement(By.id("map-mode"))).selectByValue("prob:invasive_weed");
        assertColoursFollowLegend(browser.driver.findElements(By.cssSelector("#map polygon.tile")), false);
        // a click shows the tile's image (through the server, under its allowed prefixes) and probabilities
        browser.driver.findElements(By.cssSelector("#map polygon.tile")).get(7).click();
        WebElement img = browser.waiting().until(ExpectedConditions.presenceOfElementLocated(By.id("tile-image")));
        browser.waiting().until(d -> ((Number) browser.driver.executeScript("return arguments[0].naturalWidth", img)).intValue() > 0);
        assertThat(browser.driver.findElements(By.cssSelector("#tile-panel .prob"))).hasSize(job.get("result").get("cover").size());
        browser.screenshot(shots.resolve("dashboard-map-weed.png"));
        assertThat(browser.consoleErrors()).isEmpty();
    }

    private void assertColoursFollowLegend(List<WebElement> shapes, boolean byClass) {
        Map<String, String> legend = new HashMap<>();
        for (WebElement li : browser.driver.findElements(By.cssSelector("#legend li"))) legend.put(li.getAttribute("data-class"), li.getAttribute("data-color"));
        assertThat(legend).isNotEmpty();
        for (WebElement s : shapes) {
            String fill = s.getAttribute("fill");
            if (byClass) assertThat(fill).as(s.getAttribute("data-tile")).isEqualTo(legend.get(s.getAttribute("data-top-class")));
            else assertThat(legend.values()).as(s.getAttribute("data-tile")).contains(fill);
        }
    }

    @Test
    @Order(5)
    void promoteAsksForConfirmationAndTheRegistryShowsIt() throws Exception {
        open("#/models/land-cover", By.cssSelector("#versions tbody tr"));
        assertThat(browser.driver.findElement(By.cssSelector("#versions tr[data-version='1']")).getAttribute("data-stage")).isEqualTo("staging");
        // cancelling the dialog changes nothing
        browser.driver.findElement(By.cssSelector("button[data-action='promote'][data-version='1']")).click();
        browser.waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("confirm-cancel"))).click();
        assertThat(get("/v1/models/land-cover", admin).get("versions").get(0).get("stage").asText()).isEqualTo("staging");
        clickAndConfirm(browser.driver.findElement(By.cssSelector("button[data-action='promote'][data-version='1']")));
        browser.waiting().until(d -> "production".equals(d.findElement(By.cssSelector("#versions tr[data-version='1']")).getAttribute("data-stage")));
        assertThat(get("/v1/models/land-cover", admin).get("versions").get(0).get("stage").asText()).isEqualTo("production");
        MainTest.Result shown = MainTest.runIn(home, "model", "show", "land-cover");
        assertThat(shown.out()).contains("production");
        assertThat(browser.driver.findElements(By.cssSelector("#history tbody tr"))).isNotEmpty();
        browser.screenshot(shots.resolve("dashboard-model-promoted.png"));
    }

    @Test
    @Order(6)
    void anAdminCreatesScalesAndStopsAClusterFromThePage() throws Exception {
        try {
            open("#/clusters", By.id("create-cluster"));
            browser.driver.findElement(By.id("new-cluster-name")).sendKeys("ui-test");
            WebElement workers = browser.driver.findElement(By.id("new-cluster-workers"));
            workers.clear();
            workers.sendKeys("1");
            clickAndConfirm(browser.driver.findElement(By.cssSelector("button[data-action='create']")));
            By row = By.cssSelector("#clusters tr[data-cluster='ui-test'][data-state='running']");
            browser.waiting().until(ExpectedConditions.presenceOfElementLocated(row));
            // create answers once its worker is registered: the table says so
            reloadUntil(By.cssSelector("#clusters tr[data-cluster='ui-test'] td:nth-child(3)"), t -> t.startsWith("1 / 1"), java.time.Duration.ofSeconds(60));
            browser.screenshot(shots.resolve("dashboard-clusters.png"));
            WebElement scale = browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] input[type=number]"));
            scale.clear();
            scale.sendKeys("2");
            clickAndConfirm(browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] button[data-action='scale']")));
            browser.waiting().until(d -> d.findElements(By.cssSelector("#clusters tr[data-cluster='ui-test'] td:nth-child(3)")).stream()
                    .anyMatch(c -> c.getText().endsWith("/ 2")));
            // the Java SDK sees what the page did
            dev.canopy.client.Clusters sdk = server.client(admin).clusters();
            assertThat(sdk.status("ui-test").get("workers_wanted").asInt()).isEqualTo(2);
            assertThat(sdk.list().get("items")).extracting(c -> c.get("name").asText()).containsExactly("ui-test");
            assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(dev.canopy.client.CanopyClient.ApiException.class, () -> sdk.status("nosuch")).code())
                    .isEqualTo("unknown");
            assertThat(org.assertj.core.api.Assertions.catchThrowableOfType(dev.canopy.client.CanopyClient.ApiException.class,
                    () -> server.client(reader).clusters().stop("ui-test")).status()).as("stopping needs admin").isEqualTo(403);
            // a warm pool of one from the page: its driver comes up and the table says so
            WebElement warm = browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] input.warm-size"));
            warm.clear();
            warm.sendKeys("1");
            clickAndConfirm(browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] button[data-action='warm']")));
            reloadUntil(By.cssSelector("#clusters tr[data-cluster='ui-test'] td.warm-pool"), t -> t.startsWith("1/1 ready"), java.time.Duration.ofSeconds(120));
            browser.screenshot(shots.resolve("dashboard-clusters.png"));
            WebElement none = browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] input.warm-size"));
            none.clear();
            none.sendKeys("0");
            clickAndConfirm(browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] button[data-action='warm']")));
            // the page draws the table again once the pool is empty: only then is the Stop button the one on the page
            browser.waiting().until(d ->
                    d.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] td.warm-pool")).getText().equals("none"));
            clickAndConfirm(browser.driver.findElement(By.cssSelector("#clusters tr[data-cluster='ui-test'] button[data-action='stop']")));
            browser.waiting().until(ExpectedConditions.presenceOfElementLocated(By.cssSelector("#clusters tr[data-cluster='ui-test'][data-state='stopped']")));
            assertThat(get("/v1/clusters/ui-test", admin).get("state").asText()).isEqualTo("stopped");
            assertThat(browser.consoleErrors()).isEmpty();
        } finally {
            MainTest.runIn(home, "cluster", "delete", "ui-test");
        }
    }

    /**
     * Reloads the page until {@code cell}'s text passes: after each reload it waits for the cell to be drawn (the page
     * fetches its data after loading), so a slow answer is never read as a wrong one. On timeout it prints what the API
     * and the cluster's logs said.
     */
    private void reloadUntil(By cell, java.util.function.Predicate<String> ok, java.time.Duration total) throws Exception {
        java.time.Instant deadline = java.time.Instant.now().plus(total);
        String last = null;
        while (java.time.Instant.now().isBefore(deadline)) {
            browser.driver.navigate().refresh();
            try {
                last = new org.openqa.selenium.support.ui.WebDriverWait(browser.driver, java.time.Duration.ofSeconds(20))
                        .ignoring(org.openqa.selenium.StaleElementReferenceException.class)
                        .until(d -> d.findElement(cell).getText());
                if (ok.test(last)) return;
            } catch (org.openqa.selenium.TimeoutException notDrawn) {
                last = "(not drawn within 20 s)";
            }
            Thread.sleep(2000);
        }
        System.err.println("GET /v1/clusters: " + get("/v1/clusters", admin).toPrettyString());
        Path dir = home.resolve("clusters").resolve("ui-test");
        if (Files.isDirectory(dir)) {
            try (var logs = Files.list(dir)) {
                for (Path log : logs.filter(f -> f.toString().endsWith(".log")).sorted().toList()) {
                    List<String> lines = Files.readAllLines(log);
                    System.err.println("--- " + log + " (last 40 lines)\n" + String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size())));
                }
            }
        }
        throw new AssertionError(cell + " never passed within " + total + "; it last read: " + last);
    }

    @Test
    @Order(7)
    void aTokenWithoutAdminSeesNoAdminButtonsAndCannotUseTheirEndpoints() throws Exception {
        browser.driver.findElement(By.id("sign-out")).click();
        browser.waiting().until(ExpectedConditions.visibilityOfElementLocated(By.id("token")));
        signIn(reader);
        open("#/models/land-cover", By.cssSelector("#versions tbody tr"));
        assertThat(browser.driver.findElements(By.cssSelector(".admin-action"))).isEmpty();
        open("#/clusters", By.cssSelector("h1"));
        assertThat(browser.driver.findElements(By.cssSelector(".admin-action"))).isEmpty();
        assertThat(browser.driver.findElements(By.id("create-cluster"))).isEmpty();
        // the endpoints refuse the token, and the page's own session (cookie and CSRF token) too
        assertThat(post("/v1/models/land-cover/promote", reader, "{\"version\": 1, \"stage\": \"staging\"}")).isEqualTo(403);
        assertThat(post("/v1/models/land-cover/versions/1/approve", reader, "{}")).isEqualTo(403);
        assertThat(post("/v1/clusters", reader, "{\"name\": \"nope\", \"workers\": 0}")).isEqualTo(403);
        Object status = browser.driver.executeAsyncScript("const done = arguments[arguments.length - 1];"
                + "fetch('/ui/session').then(r => r.json()).then(s => fetch('/v1/models/land-cover/rollback', {method: 'POST', credentials: 'same-origin',"
                + " headers: {'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf_token}, body: JSON.stringify({stage: 'production'})}))"
                + ".then(r => done(r.status), e => done(String(e)));");
        assertThat(((Number) status).intValue()).isEqualTo(403);
        assertThat(get("/v1/models/land-cover", admin).get("versions").get(0).get("stage").asText()).isEqualTo("production");
        browser.consoleErrors(); // the refused fetch above logs its 403: expected
    }

    @AfterAll
    void stop() throws Exception {
        try {
            if (browser != null) browser.close();
        } finally {
            if (server != null) {
                server.process().destroyForcibly();
                server.process().waitFor(30, TimeUnit.SECONDS);
            }
            ServerProcess.killAllUnder(home);
        }
    }
}
