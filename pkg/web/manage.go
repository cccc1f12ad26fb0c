package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// The management pages render forms; manage.js sends them to the REST API (POST/PATCH/DELETE
// /websites, /regions, /status-pages) and shows the API's validation errors next to each
// field. There is no second write path for browsers.

// maxListed is how many regions or status pages the management pages list; both are few.
const maxListed = 500

type websiteFormData struct {
	New         bool
	Website     postgres.Website
	Regions     []monitor.Region
	Selected    map[string]bool
	AlertEmails string
	Webhooks    string
	Methods     []string
}

var formMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// WebsiteNew is the form that adds a website.
func (ui *UI) WebsiteNew(c echo.Context) error {
	return newForm(ui, c, postgres.Website{Website: monitor.DefaultWebsite(), AllRegions: true}, ui.websiteForm)
}

// WebsiteEdit is the form that changes or deletes a website.
func (ui *UI) WebsiteEdit(c echo.Context) error {
	return editForm(ui, c, ui.websites.Get, ui.websiteForm)
}

// newForm serves the form that adds one T, filled with v: form renders it as new.
func newForm[T any](ui *UI, c echo.Context, v T, form func(echo.Context, postgres.Session, T, bool) error) error {
	return ui.page(func(c echo.Context, sess postgres.Session) error {
		return form(c, sess, v, true)
	})(c)
}

// editForm serves the form that changes or deletes one T: get reads the one the path's :id
// names (a missing one is the store's monitor.ErrNotFound), and form renders it.
func editForm[T any](ui *UI, c echo.Context, get func(context.Context, string) (T, error),
	form func(echo.Context, postgres.Session, T, bool) error) error {
	return ui.page(func(c echo.Context, sess postgres.Session) error {
		v, err := get(c.Request().Context(), c.Param("id"))
		if err != nil {
			return err
		}
		return form(c, sess, v, false)
	})(c)
}

func (ui *UI) websiteForm(c echo.Context, sess postgres.Session, w postgres.Website, isNew bool) error {
	regions, _, err := ui.regions.List(c.Request().Context(), postgres.ListParams{Limit: maxListed})
	if err != nil {
		return err
	}
	d := websiteFormData{New: isNew, Website: w, Regions: regions, Selected: map[string]bool{},
		AlertEmails: strings.Join(w.AlertEmails, "\n"), Webhooks: strings.Join(w.Webhooks, "\n"), Methods: formMethods}
	if !w.AllRegions {
		for _, r := range w.Regions {
			d.Selected[r] = true
		}
	}
	title := "Add website"
	if !isNew {
		title = "Edit " + w.Name
	}
	return ui.render(c, http.StatusOK, "website_form", view{
		Title: title, Nav: "overview", CSRF: sess.CSRFToken, Scripts: []string{"app.js", "manage.js"}, Data: d,
	})
}

// Regions lists the regions with a form to add one.
func (ui *UI) Regions(c echo.Context) error {
	return listPage(ui, c, ui.regions.List, "regions", view{Title: "Regions", Nav: "regions"})
}

// StatusPages lists the status pages.
func (ui *UI) StatusPages(c echo.Context) error {
	return listPage(ui, c, ui.statusPages.List, "status_pages", view{Title: "Status pages", Nav: "status-pages"})
}

// listPage serves a management page that lists up to maxListed rows, read with list, in the
// template name; v gives the page its title and navigation tab.
func listPage[T any](ui *UI, c echo.Context, list func(context.Context, postgres.ListParams) ([]T, *postgres.Cursor, error),
	name string, v view) error {
	return ui.page(func(c echo.Context, sess postgres.Session) error {
		rows, _, err := list(c.Request().Context(), postgres.ListParams{Limit: maxListed})
		if err != nil {
			return err
		}
		v.CSRF, v.Scripts, v.Data = sess.CSRFToken, []string{"app.js", "manage.js"}, rows
		return ui.render(c, http.StatusOK, name, v)
	})(c)
}

type statusPageFormData struct {
	New  bool
	Page postgres.StatusPage
	// Names are the names of the page's websites, for the group editor's chips.
	Names map[string]string
}

// StatusPageNew is the form that creates a status page.
func (ui *UI) StatusPageNew(c echo.Context) error {
	return newForm(ui, c, postgres.StatusPage{Groups: []postgres.StatusPageGroup{{Name: "Services"}}}, ui.statusPageForm)
}

// StatusPageEdit is the form that changes or deletes a status page.
func (ui *UI) StatusPageEdit(c echo.Context) error {
	return editForm(ui, c, ui.statusPages.Get, ui.statusPageForm)
}

func (ui *UI) statusPageForm(c echo.Context, sess postgres.Session, p postgres.StatusPage, isNew bool) error {
	rows, err := ui.overview.Rows(c.Request().Context(), p.WebsiteIDs())
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, r := range rows {
		names[r.ID] = r.Name
	}
	title := "New status page"
	if !isNew {
		title = "Edit " + p.Title
	}
	return ui.render(c, http.StatusOK, "status_page_form", view{
		Title: title, Nav: "status-pages", CSRF: sess.CSRFToken, Scripts: []string{"app.js", "manage.js"},
		Data: statusPageFormData{New: isNew, Page: p, Names: names},
	})
}
