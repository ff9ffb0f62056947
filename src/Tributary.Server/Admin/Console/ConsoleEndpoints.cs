using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Tributary.Server.Admin.Console;

/// <summary>
/// Maps the web console onto an HTTP listener: the pages under <c>/console/</c> (plain HTML, CSS and JavaScript
/// embedded in this assembly: nothing to build or download) and their JSON API under <c>/console/api/</c>.
/// </summary>
public static class ConsoleEndpoints
{
    public const string PathBase = "/console";

    private static readonly Dictionary<string, string> ContentTypes = new(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    };

    public static IEndpointRouteBuilder MapTributaryConsole(this IEndpointRouteBuilder routes, TributaryBroker broker, ConsoleOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(routes);
        var api = new ConsoleApi(broker, options ?? new ConsoleOptions());
        routes.ServiceProvider.GetService<IHostApplicationLifetime>()?.ApplicationStopping.Register(api.Dispose);

        const string Api = PathBase + "/api";
        routes.MapGet(Api + "/session", (RequestDelegate)api.SessionAsync);
        routes.MapPost(Api + "/login", (RequestDelegate)api.LoginAsync);
        routes.MapPost(Api + "/logout", (RequestDelegate)api.LogoutAsync);
        routes.MapGet(Api + "/overview", (RequestDelegate)api.OverviewAsync);
        routes.MapGet(Api + "/topics", (RequestDelegate)api.TopicsAsync);
        routes.MapPost(Api + "/topics", (RequestDelegate)api.CreateTopicAsync);
        routes.MapGet(Api + "/topics/{topic}", (RequestDelegate)api.TopicAsync);
        routes.MapDelete(Api + "/topics/{topic}", (RequestDelegate)api.DeleteTopicAsync);
        routes.MapPost(Api + "/topics/{topic}/configs", (RequestDelegate)api.AlterConfigsAsync);
        routes.MapGet(Api + "/topics/{topic}/messages", (RequestDelegate)api.MessagesAsync);
        routes.MapPost(Api + "/topics/{topic}/messages", (RequestDelegate)api.ProduceAsync);
        routes.MapPost(Api + "/topics/{topic}/search", (RequestDelegate)api.StartSearchAsync);
        routes.MapGet(Api + "/searches/{id}", (RequestDelegate)api.SearchAsync);
        routes.MapPost(Api + "/searches/{id}/cancel", (RequestDelegate)api.CancelSearchAsync);
        routes.MapGet(Api + "/groups", (RequestDelegate)api.GroupsAsync);
        routes.MapGet(Api + "/groups/{group}", (RequestDelegate)api.GroupAsync);
        routes.MapPost(Api + "/groups/{group}/reset", (RequestDelegate)api.ResetOffsetsAsync);
        routes.Map(Api + "/{**rest}", http => ConsoleApi.ErrorAsync(http, 404, "no such console API"));

        // Routing matches /console and /console/ alike; the page's relative links need the slash.
        routes.MapGet(PathBase, http =>
        {
            if (http.Request.Path.Value?.EndsWith('/') == true)
            {
                return StaticAsync(http, "index.html");
            }

            http.Response.Redirect(PathBase + "/");
            return Task.CompletedTask;
        });
        routes.MapGet(PathBase + "/{file}", http => StaticAsync(http, http.Request.RouteValues["file"] as string ?? ""));
        return routes;
    }

    private static async Task StaticAsync(HttpContext http, string file)
    {
        var stream = ContentTypes.TryGetValue(Path.GetExtension(file), out var contentType)
            ? typeof(ConsoleEndpoints).Assembly.GetManifestResourceStream("console/" + file)
            : null;
        if (stream is null)
        {
            http.Response.StatusCode = 404;
            return;
        }

        await using (stream.ConfigureAwait(false))
        {
            http.Response.ContentType = contentType;
            http.Response.Headers.CacheControl = "no-cache";
            http.Response.Headers.XContentTypeOptions = "nosniff";
            http.Response.Headers.XFrameOptions = "DENY";
            http.Response.Headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'";
            await stream.CopyToAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        }
    }
}
