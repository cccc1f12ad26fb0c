package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// Bounds on a status page. A page is public and rendered on every visit, so it stays small.
const (
	maxPageTitleChars   = 200
	maxPageDescChars    = 2000
	maxPageGroups       = 20
	maxGroupNameChars   = 100
	maxPageWebsites     = 500
	statusSlugRule      = "must be 1 to 63 lower-case letters, digits or hyphens, starting with a letter or digit"
	statusPageSlugTaken = "is taken by another status page"
)

var statusSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// statusPageInput is the body of POST and PATCH /status-pages.
type statusPageInput struct {
	Slug        *string                    `json:"slug"`
	Title       *string                    `json:"title"`
	Description *string                    `json:"description"`
	ShowURLs    *bool                      `json:"show_urls"`
	Groups      []postgres.StatusPageGroup `json:"groups"`
}

// apply sets the fields the client sent; a null resets a field to its default.
func (in statusPageInput) apply(p *postgres.StatusPage, present presence) {
	setOrDefault(&p.Slug, in.Slug, "", present.has("slug"))
	setOrDefault(&p.Title, in.Title, "", present.has("title"))
	setOrDefault(&p.Description, in.Description, "", present.has("description"))
	setOrDefault(&p.ShowURLs, in.ShowURLs, false, present.has("show_urls"))
	if present.has("groups") {
		p.Groups = in.Groups
		if p.Groups == nil {
			p.Groups = []postgres.StatusPageGroup{}
		}
	}
}

func validateStatusPage(p *postgres.StatusPage) error {
	f := fieldErrors{}
	if !statusSlug.MatchString(p.Slug) {
		f.add("slug", statusSlugRule)
	}
	if msg := monitor.CheckName(p.Title, 1, maxPageTitleChars); msg != "" {
		f.add("title", msg)
	}
	if utf8.RuneCountInString(p.Description) > maxPageDescChars || !utf8.ValidString(p.Description) {
		f.add("description", fmt.Sprintf("must be at most %d characters", maxPageDescChars))
	}
	if len(p.Groups) > maxPageGroups {
		f.add("groups", fmt.Sprintf("at most %d groups", maxPageGroups))
	}
	total := 0
	for i, g := range p.Groups {
		if g.Name != "" {
			if msg := monitor.CheckName(g.Name, 1, maxGroupNameChars); msg != "" {
				f.add(fmt.Sprintf("groups[%d].name", i), msg)
			}
		}
		if g.WebsiteIDs == nil {
			p.Groups[i].WebsiteIDs = []string{}
		}
		total += len(g.WebsiteIDs)
	}
	if total > maxPageWebsites {
		f.add("groups", fmt.Sprintf("at most %d websites in all", maxPageWebsites))
	}
	return f.err()
}

// slugTaken answers a duplicate slug.
func slugTaken(err error) error {
	if errors.Is(err, monitor.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: "slug: " + statusPageSlugTaken, Fields: map[string]string{"slug": statusPageSlugTaken}}
	}
	return err
}

func (s *Server) statusPages() *postgres.StatusPageStore { return s.db.StatusPages() }

// createStatusPage handles POST /status-pages.
func (s *Server) createStatusPage(c echo.Context) error {
	var in statusPageInput
	present, err := decodeJSON(c, &in)
	if err != nil {
		return err
	}
	p := postgres.StatusPage{Groups: []postgres.StatusPageGroup{}}
	in.apply(&p, present)
	if err := validateStatusPage(&p); err != nil {
		return err
	}
	out, err := s.statusPages().Create(c.Request().Context(), p)
	if err != nil {
		return slugTaken(err)
	}
	return created(c, "/status-pages/"+out.ID, out)
}

// listStatusPages handles GET /status-pages?limit=&cursor=&q=.
func (s *Server) listStatusPages(c echo.Context) error { return listPage(c, s.statusPages().List) }

// getStatusPage handles GET /status-pages/:id.
func (s *Server) getStatusPage(c echo.Context) error { return getByID(c, s.statusPages().Get) }

// updateStatusPage handles PATCH /status-pages/:id: the fields sent change (groups as a
// whole), the others stay.
func (s *Server) updateStatusPage(c echo.Context) error {
	var in statusPageInput
	present, err := decodeJSON(c, &in)
	if err != nil {
		return err
	}
	out, err := s.statusPages().Update(c.Request().Context(), c.Param("id"), func(p *postgres.StatusPage) error {
		in.apply(p, present)
		return validateStatusPage(p)
	})
	if err != nil {
		return slugTaken(err)
	}
	return c.JSON(http.StatusOK, out)
}

// deleteStatusPage handles DELETE /status-pages/:id.
func (s *Server) deleteStatusPage(c echo.Context) error {
	if err := s.statusPages().Delete(c.Request().Context(), c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
