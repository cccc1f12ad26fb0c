package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/vigil-monitor/vigil/pkg/monitor"
	"github.com/vigil-monitor/vigil/pkg/postgres"
)

// regionInput is the body of POST and PATCH /regions.
type regionInput struct {
	Name *string `json:"name"`
}

func (in regionInput) validName() (string, error) {
	if in.Name == nil {
		return "", invalidField("name", "is required; "+regionNameRule)
	}
	if msg := validRegionName(*in.Name); msg != "" {
		return "", invalidField("name", msg)
	}
	return *in.Name, nil
}

// nameTaken answers a duplicate region name.
func nameTaken(err error, name string) error {
	if errors.Is(err, monitor.ErrConflict) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: fmt.Sprintf("name: region %q already exists", name),
			Fields:  map[string]string{"name": "already exists"}}
	}
	return err
}

// createRegion handles POST /regions.
func (s *Server) createRegion(c echo.Context) error {
	var in regionInput
	if _, err := decodeJSON(c, &in); err != nil {
		return err
	}
	name, err := in.validName()
	if err != nil {
		return err
	}
	r, err := s.regions.Create(c.Request().Context(), name)
	if err != nil {
		return nameTaken(err, name)
	}
	return created(c, "/regions/"+r.ID, r)
}

// listRegions handles GET /regions?limit=&cursor=&q=.
func (s *Server) listRegions(c echo.Context) error { return listPage(c, s.regions.List) }

// getRegion handles GET /regions/:id.
func (s *Server) getRegion(c echo.Context) error { return getByID(c, s.regions.Get) }

// updateRegion handles PATCH /regions/:id (a rename).
func (s *Server) updateRegion(c echo.Context) error {
	var in regionInput
	if _, err := decodeJSON(c, &in); err != nil {
		return err
	}
	if in.Name == nil {
		return s.getRegion(c) // nothing to change
	}
	name, err := in.validName()
	if err != nil {
		return err
	}
	r, err := s.regions.Rename(c.Request().Context(), c.Param("id"), name)
	if err != nil {
		return nameTaken(err, name)
	}
	return c.JSON(http.StatusOK, r)
}

// deleteRegion handles DELETE /regions/:id?force=. A region that websites list by name is
// kept (409) unless force=true, which removes it from them. Its Redis keys go with it: the
// jobs queued in its stream carry the websites' custom headers, credentials included.
func (s *Server) deleteRegion(c echo.Context) error {
	force := false
	if raw := c.QueryParam("force"); raw != "" {
		var err error
		if force, err = strconv.ParseBool(raw); err != nil {
			return invalidField("force", "must be true or false")
		}
	}
	ctx := c.Request().Context()
	r, err := s.regions.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	err = s.regions.Delete(ctx, r.ID, force)
	var inUse *postgres.RegionInUseError
	if errors.As(err, &inUse) {
		return &Error{Status: http.StatusConflict, Code: CodeConflict,
			Message: fmt.Sprintf("region is used by %d website(s); delete with ?force=true to remove it from them", inUse.Websites)}
	}
	if err != nil {
		return err
	}
	if s.regionKeys != nil {
		// The region is gone from PostgreSQL whatever Redis says: a failure here is logged, and
		// the scheduler's start-up sweep removes what is left.
		n, err := s.regionKeys.Drop(ctx, r.Name)
		if err != nil {
			s.log.ErrorContext(ctx, "region deleted, but its Redis keys remain until the scheduler's next start",
				"region", r.Name, "err", err)
		} else {
			s.log.InfoContext(ctx, "region deleted with its Redis keys", "region", r.Name, "keys", n)
		}
	}
	return c.NoContent(http.StatusNoContent)
}
