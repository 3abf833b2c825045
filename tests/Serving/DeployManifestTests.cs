using System.CommandLine;
using System.Text.RegularExpressions;
using DogsVsCats.Vision.Realtime.Cli;
using DogsVsCats.Vision.Realtime.Hosting;
using DogsVsCats.Vision.Realtime.Inference;
using DogsVsCats.Vision.Realtime.Serving;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using YamlDotNet.RepresentationModel;

namespace DogsVsCats.Vision.Tests.Serving;

/// <summary>
/// deploy/ cannot run here (no Docker, no cluster), so its files are read and held against the app: every option they
/// pass exists in 'realtime serve' and passes its checks, every probe and scrape path is an endpoint the server maps,
/// and every port agrees with the address the server is told to listen on.
/// </summary>
[Trait("Category", "Fast")]
public sealed partial class DeployManifestTests
{
    private static readonly string Deploy = Path.Combine(TestData.RepositoryRoot, "deploy");

    public static TheoryData<string> Manifests => new() { "kubernetes/serve.yaml", "kserve/inferenceservice.yaml" };

    [Theory]
    [MemberData(nameof(Manifests))]
    public void Manifest_OptionsPortsAndPaths_ExistInTheApp(string file)
    {
        var documents = Load(file);
        var containers = documents.SelectMany(Containers).ToList();
        Assert.NotEmpty(containers);
        var endpoints = Endpoints();
        foreach (var (container, pod) in containers)
        {
            var args = Sequence(container, "args");
            var options = Bind(args);
            var port = new Uri(options.UrlList.Single()).Port;
            var ports = ((YamlSequenceNode)container["ports"]).Cast<YamlMappingNode>().ToList();
            Assert.Contains(ports, p => Text(p, "containerPort") == port.ToString(System.Globalization.CultureInfo.InvariantCulture));

            foreach (var probe in new[] { "livenessProbe", "readinessProbe" })
            {
                var get = (YamlMappingNode)((YamlMappingNode)container[probe])["httpGet"];
                Assert.Contains(Text(get, "path"), endpoints);
                Assert.Equal(port, PortOf(get, ports));
            }

            Assert.Equal("/v2/health/live", Text((YamlMappingNode)((YamlMappingNode)container["livenessProbe"])["httpGet"], "path"));
            Assert.Equal("/v2/health/ready", Text((YamlMappingNode)((YamlMappingNode)container["readinessProbe"])["httpGet"], "path"));

            // Prometheus scrapes the port the server listens on, at a path it serves.
            var annotations = pod;
            Assert.Equal("true", Text(annotations, "prometheus.io/scrape"));
            Assert.Contains(Text(annotations, "prometheus.io/path"), endpoints);
            Assert.Equal(port.ToString(System.Globalization.CultureInfo.InvariantCulture), Text(annotations, "prometheus.io/port"));
        }
    }

    [Fact]
    public void Deployment_DrainsWithinItsGracePeriod_ServiceTargetsTheNamedPort()
    {
        var documents = Load("kubernetes/serve.yaml");
        var deployment = documents.Single(d => Text(d, "kind") == "Deployment");
        var pod = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["spec"];
        var container = (YamlMappingNode)((YamlSequenceNode)pod["containers"]).Single();
        var drain = Bind(Sequence(container, "args")).DrainSeconds;
        Assert.True(double.Parse(Text(pod, "terminationGracePeriodSeconds"), System.Globalization.CultureInfo.InvariantCulture) > drain);

        var service = documents.Single(d => Text(d, "kind") == "Service");
        var target = Text((YamlMappingNode)((YamlSequenceNode)((YamlMappingNode)service["spec"])["ports"]).Single(), "targetPort");
        Assert.Contains(((YamlSequenceNode)container["ports"]).Cast<YamlMappingNode>(), p => Text(p, "name") == target);
        var selector = (YamlMappingNode)((YamlMappingNode)service["spec"])["selector"];
        var labels = (YamlMappingNode)((YamlMappingNode)((YamlMappingNode)((YamlMappingNode)deployment["spec"])["template"])["metadata"])["labels"];
        Assert.All(selector.Children, pair => Assert.Equal(pair.Value.ToString(), labels[pair.Key].ToString()));
    }

    [Fact]
    public void Dockerfile_RunsServe_ExposesThePortItListensOn_WithOptionsTheAppHas()
    {
        var lines = File.ReadAllLines(Path.Combine(Deploy, "Dockerfile"));
        Assert.Contains(lines, l => l == """ENTRYPOINT ["dotnet", "realtime.dll", "serve"]""");
        var environment = lines.Where(l => l.StartsWith("ENV ", StringComparison.Ordinal)).Select(l => l[4..].Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        var cmd = CommandArguments().Matches(lines.Single(l => l.StartsWith("CMD ", StringComparison.Ordinal))).Select(m => m.Groups[1].Value).ToList();
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(environment.Select(p => new KeyValuePair<string, string?>(
            p.Key.Replace(global::DogsVsCats.Vision.Realtime.RealtimeApp.EnvironmentPrefix, "", StringComparison.Ordinal).Replace("__", ":", StringComparison.Ordinal), p.Value))).Build();
        var options = Bind(cmd, configuration);
        var exposed = lines.Single(l => l.StartsWith("EXPOSE ", StringComparison.Ordinal))[7..].Trim();
        Assert.Equal(exposed, new Uri(options.UrlList.Single()).Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.False(ServeApp.IsLoopback(options.UrlList.Single()), "inside a container the server must listen beyond loopback");
    }

    /// <summary>Parses arguments with serve's own command line, then binds and checks them as the app does (the model file aside: it lives in the cluster).</summary>
    private static ServeOptions Bind(IReadOnlyList<string> args, IConfiguration? environment = null)
    {
        IReadOnlyDictionary<string, string?>? given = null;
        var root = RealtimeCli.Build((_, _) => Task.FromResult(1), (values, _) =>
        {
            given = values;
            return Task.FromResult(0);
        });
        var parsed = root.Parse(["serve", .. args]);
        Assert.Empty(parsed.Errors);
        Assert.Equal(0, parsed.Invoke());
        var configuration = new ConfigurationBuilder().AddConfiguration(environment ?? new ConfigurationBuilder().Build()).AddInMemoryCollection(given!).Build();
        var errors = new List<string>();
        var classifier = OptionBinder.Bind<ClassifierOptions>(configuration, errors);
        Assert.EndsWith(".onnx", classifier.Model, StringComparison.Ordinal);
        var options = OptionBinder.Bind<ServeOptions>(configuration, errors);
        options.Validate(errors);
        Assert.Empty(errors);
        return options;
    }

    /// <summary>The route patterns the server maps, read from the app itself.</summary>
    private static HashSet<string> Endpoints()
    {
        var app = ServeApp.Build(new ConfigurationBuilder().Build(), new ClassifierOptions { Model = "model.onnx" }, new ServeOptions());
        return ((IEndpointRouteBuilder)app).DataSources.SelectMany(d => d.Endpoints).OfType<RouteEndpoint>()
            .Select(e => e.RoutePattern.RawText!).ToHashSet(StringComparer.Ordinal);
    }

    private static List<YamlMappingNode> Load(string file)
    {
        var yaml = new YamlStream();
        using var reader = new StreamReader(Path.Combine(Deploy, file));
        yaml.Load(reader);
        return yaml.Documents.Select(d => (YamlMappingNode)d.RootNode).ToList();
    }

    /// <summary>Each container with the annotations of its pod (a Deployment's template, or an InferenceService's own).</summary>
    private static IEnumerable<(YamlMappingNode Container, YamlMappingNode Annotations)> Containers(YamlMappingNode document)
    {
        var spec = (YamlMappingNode)document["spec"];
        var (pod, metadata) = Text(document, "kind") switch
        {
            "Deployment" => ((YamlMappingNode)((YamlMappingNode)spec["template"])["spec"], (YamlMappingNode)((YamlMappingNode)spec["template"])["metadata"]),
            "InferenceService" => ((YamlMappingNode)spec["predictor"], (YamlMappingNode)document["metadata"]),
            _ => (null, null),
        };
        if (pod is null || metadata is null)
        {
            yield break;
        }

        foreach (var container in ((YamlSequenceNode)pod["containers"]).Cast<YamlMappingNode>())
        {
            yield return (container, (YamlMappingNode)metadata["annotations"]);
        }
    }

    private static int PortOf(YamlMappingNode httpGet, List<YamlMappingNode> ports)
    {
        var port = Text(httpGet, "port");
        return int.TryParse(port, out var number) ? number : int.Parse(Text(ports.Single(p => Text(p, "name") == port), "containerPort"), System.Globalization.CultureInfo.InvariantCulture);
    }

    private static List<string> Sequence(YamlMappingNode node, string key) => ((YamlSequenceNode)node[key]).Select(n => n.ToString()).ToList();

    private static string Text(YamlMappingNode node, string key) => node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value.ToString() : "";

    [GeneratedRegex("\"([^\"]*)\"")]
    private static partial Regex CommandArguments();
}
